"""A real web server (gunicorn) in a child process, for fault tests.

pytest-django's ``live_server`` runs in the test process and shares its
settings; a fault test needs a server whose broker or database is a different
one (a closed port, a PostgreSQL the test stops), so it gets its own process
and environment.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.support.services import free_port

ROOT = Path(__file__).resolve().parents[2]
LOGS = ROOT / "var" / "test-logs"


class GunicornProcess:
    """``gunicorn scheduler_site.wsgi`` on a free port with the given environment."""

    def __init__(self, *, env: dict[str, str], ready_timeout: float = 30.0) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = env
        self.ready_timeout = ready_timeout
        self.process: subprocess.Popen[bytes] | None = None
        LOGS.mkdir(parents=True, exist_ok=True)
        self.log_path = LOGS / f"gunicorn-{self.port}.log"

    def start(self) -> GunicornProcess:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        argv = [
            sys.executable, "-m", "gunicorn", "scheduler_site.wsgi",
            "--bind", f"127.0.0.1:{self.port}", "--workers", "1", "--threads", "2",
            "--timeout", "60",
        ]  # fmt: skip
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        self._wait_until_listening()
        return self

    def _wait_until_listening(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                break
            try:
                urllib.request.urlopen(self.url + "/healthz", timeout=2).close()
                return
            except (OSError, urllib.error.URLError):
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer; its log:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
