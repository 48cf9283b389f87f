"""Real processes for the chaos tests, and the servers they may break.

`CeleryBeatProcess` is `celery beat` with our dispatching scheduler, as
operators run it. `PrivateRedis` and `PrivatePostgres` are servers of the
test's own, on ports of their own, because a test that flushes or restarts a
server must never touch the shared ones; each is stopped by its fixture.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from tests.support.services import ROOT, WORKER_LOGS, free_port, wait_for

REDIS_PORTS = range(55500, 55510)
POSTGRES_PORTS = range(55510, 55520)


class CeleryBeatProcess:
    """``celery beat`` (our DispatchingScheduler) in a child process."""

    def __init__(self, *, database_url: str, extra_env: dict[str, str]) -> None:
        self.name = f"beat-{uuid.uuid4().hex[:8]}"
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "PYTHONUNBUFFERED": "1",
            **extra_env,
        }
        self.env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        self.process: subprocess.Popen[bytes] | None = None
        WORKER_LOGS.mkdir(parents=True, exist_ok=True)
        self.log_path = WORKER_LOGS / f"{self.name}.log"

    def start(self) -> None:
        self.launch()
        self.wait_until_started()

    def launch(self) -> None:
        """Start the process without waiting (beats and workers start in parallel)."""
        argv = [
            sys.executable, "-m", "celery", "-A", "scheduler_site", "beat",
            "--loglevel", "INFO", "--pidfile=",
            "--schedule", str(WORKER_LOGS / f"{self.name}.schedule"),
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def wait_until_started(self) -> None:
        assert self.process is not None
        wait_for(
            lambda: "beat: Starting" in self.log() or self.process.poll() is not None,  # type: ignore[union-attr]
            30,
            f"{self.name} to start",
        )
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited at start; its log:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]

    def stop(self, timeout: float = 15.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def pool_children(pid: int) -> list[int]:
    """The prefork pool processes of the worker whose main process is `pid`."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children]


class PrivateRedis:
    """A throw-away redis-server on a port of its own; no persistence."""

    def __init__(self) -> None:
        self.port = free_port(REDIS_PORTS)
        self.process: subprocess.Popen[bytes] | None = None
        WORKER_LOGS.mkdir(parents=True, exist_ok=True)
        self.log_path = WORKER_LOGS / f"redis-{self.port}.log"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        argv = [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no",
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        wait_for(self._answers, 10, f"redis-server on port {self.port}")

    def _answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis.from_url(self.url, socket_timeout=1).ping())
        except redis.RedisError:
            return False

    def flushall(self) -> None:
        import redis

        redis.Redis.from_url(self.url).flushall()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def restart(self, down_seconds: float = 1.0) -> None:
        """Stop the server (its data goes with it) and start a fresh one."""
        self.stop()
        time.sleep(down_seconds)
        self.start()


def _postgres_bin(program: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{program}"))
    if not found:
        raise RuntimeError(f"{program} not found under /usr/lib/postgresql/*/bin")
    return found[-1]


class PrivatePostgres:
    """A PostgreSQL cluster made by initdb in a temporary folder, on its own port.

    As root (CI containers), initdb refuses to run; the cluster then belongs to
    the `postgres` system user, through runuser.
    """

    def __init__(self) -> None:
        self.port = free_port(POSTGRES_PORTS)
        self.folder = Path(tempfile.mkdtemp(prefix="chaos-pg-"))
        self.data = self.folder / "data"
        WORKER_LOGS.mkdir(parents=True, exist_ok=True)
        self.log_path = WORKER_LOGS / f"postgres-{self.port}.log"

    def _as_owner(self, argv: list[str]) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *argv]
        return argv

    def _run(self, argv: list[str]) -> None:
        subprocess.run(
            self._as_owner(argv), check=True, capture_output=True, timeout=120
        )

    def start(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
            self.log_path.touch()
            shutil.chown(self.log_path, "postgres", "postgres")
        self._run(
            [_postgres_bin("initdb"), "-D", str(self.data), "-U", "postgres",
             "--auth=trust", "--no-sync", "-E", "UTF8"]
        )  # fmt: skip
        self._pg_ctl("start")

    def _pg_ctl(self, action: str, *options: str) -> None:
        settings = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            [_postgres_bin("pg_ctl"), action, "-D", str(self.data), "-w", "-t", "60",
             "-l", str(self.log_path), "-o", settings, *options]
        )  # fmt: skip

    def restart(self) -> None:
        """A fast restart: every connection is cut, the server comes back."""
        self._pg_ctl("restart", "-m", "fast")

    def copy_database(self, *, source_url: str, name: str) -> str:
        """Create `name` here as a copy of `source_url` (schema and data); its URL."""
        url = f"postgres://postgres@127.0.0.1:{self.port}/{name}"
        subprocess.run(
            [_postgres_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port),
             "-U", "postgres", name],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        dump = subprocess.run(
            [_postgres_bin("pg_dump"), "--no-owner", "--no-privileges", source_url],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        subprocess.run(
            [_postgres_bin("psql"), "-q", "-v", "ON_ERROR_STOP=1", url],
            input=dump.stdout, check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        return url

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._pg_ctl("stop", "-m", "immediate")
        shutil.rmtree(self.folder, ignore_errors=True)


@contextlib.contextmanager
def default_database_at(url: str) -> Iterator[None]:
    """Point this process's default connection at another server for a while.

    The chaos test for a PostgreSQL restart needs every process, this one
    included, on a cluster it may restart; the test database stays as it was.
    """
    from dj_database_url import parse
    from django.db import connection

    saved = dict(connection.settings_dict)
    target = parse(url)
    connection.close()
    connection.settings_dict.update(
        {key: target[key] for key in ("NAME", "USER", "PASSWORD", "HOST", "PORT")}  # type: ignore[literal-required]
    )
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)
