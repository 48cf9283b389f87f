"""A PostgreSQL server of the test's own, for tests that stop and start it.

The shared server on 5432 is never stopped by a test; a fault test starts this
one (initdb + pg_ctl into a temporary folder) on a port of its own.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

DEFAULT_PORTS = range(55490, 55500)


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


class OwnPostgres:
    """initdb, start, stop and remove a throw-away cluster (trust auth, 127.0.0.1)."""

    def __init__(self, port: int) -> None:
        bin_dir = postgres_bin()
        if bin_dir is None:
            raise RuntimeError("no /usr/lib/postgresql/*/bin/pg_ctl")
        self.bin = bin_dir
        self.port = port
        self.root = Path(tempfile.mkdtemp(prefix=f"pg{port}-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"

    def _run(self, *argv: str) -> None:
        command = [str(self.bin / argv[0]), *argv[1:]]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            shutil.chown(self.root, user="postgres")
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def init(self) -> OwnPostgres:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--no-sync")  # fmt: skip
        return self

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off"
        )
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log),
                  "-w", "start")  # fmt: skip

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0
