"""Probes for the real services and a real Celery worker process for tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[2]
WORKER_LOGS = ROOT / "var" / "test-logs"


def services_required() -> bool:
    return os.environ.get("REQUIRE_SERVICES", "").strip().lower() in {
        "1",
        "true",
        "yes",
    }


def service_missing(reason: str) -> None:
    """Skip with the reason, or fail when REQUIRE_SERVICES says it must be there."""
    import pytest

    if services_required():
        pytest.fail(f"{reason} (REQUIRE_SERVICES=1 turns this skip into a failure)")
    pytest.skip(reason)


def redis_url() -> str | None:
    from django.conf import settings

    if settings.REDIS_URL:
        return settings.REDIS_URL
    if settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        return settings.CELERY_BROKER_URL
    return None


def redis_unavailable_reason() -> str | None:
    url = redis_url()
    if url is None:
        return (
            "needs Redis: set REDIS_URL or CELERY_BROKER_URL=redis://127.0.0.1:6379/0"
        )
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        return f"needs Redis at {url}: {exc}"
    return None


def broker_unreachable_reason() -> str | None:
    from core.services import check_broker

    result = check_broker()
    return None if result["ok"] else f"needs a reachable broker: {result['detail']}"


def browser_unavailable_reason() -> str | None:
    if not Path("/usr/bin/chromium").exists():
        return "needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "needs the playwright package (pip install -r requirements-dev.txt)"
    return None


def database_url_for_subprocess() -> str:
    """The URL of the database the tests are using now (the test database)."""
    from django.db import connection

    params = connection.settings_dict
    if connection.vendor == "sqlite":
        name = str(params["NAME"])
        if name == ":memory:" or "mode=memory" in name:
            raise RuntimeError("a worker cannot share an in-memory SQLite database")
        return f"sqlite:///{name}"
    user = quote(params.get("USER") or "")
    password = quote(params.get("PASSWORD") or "")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = params.get("HOST") or "127.0.0.1"
    port = params.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{params['NAME']}"


class CeleryWorkerProcess:
    """``celery worker`` in a child process, on the test database and broker."""

    def __init__(
        self,
        *,
        database_url: str,
        queues: str = "runs,executions",
        concurrency: int = 2,
        pool: str = "prefork",
        extra_env: dict[str, str] | None = None,
        ready_timeout: float = 30.0,
    ) -> None:
        self.hostname = f"test-{uuid.uuid4().hex[:8]}@{os.uname().nodename}"
        self.database_url = database_url
        self.queues = queues
        self.concurrency = concurrency
        self.pool = pool
        self.extra_env = extra_env or {}
        self.ready_timeout = ready_timeout
        self.process: subprocess.Popen[bytes] | None = None
        WORKER_LOGS.mkdir(parents=True, exist_ok=True)
        self.log_path = WORKER_LOGS / f"{self.hostname.split('@')[0]}.log"

    def start(self) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }
        env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        argv = [
            sys.executable, "-m", "celery", "-A", "scheduler_site", "worker",
            "--hostname", self.hostname, "-Q", self.queues, "--pool", self.pool,
            "--concurrency", str(self.concurrency), "--loglevel", "INFO",
            "--without-gossip", "--without-mingle",
        ]  # fmt: skip
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        """Ready when the worker has written its start-up heartbeat to the database."""
        from core.models import WorkerHeartbeat

        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if WorkerHeartbeat.objects.filter(hostname=self.hostname).exists():
                return
            assert self.process is not None
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(
            f"worker {self.hostname} did not become ready; its log:\n{self.log()}"
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill(self, signum: int = signal.SIGKILL) -> None:
        """Kill the whole worker (main process and pool children) at once."""
        assert self.process is not None
        try:
            os.killpg(self.process.pid, signum)
        except ProcessLookupError:
            return
        self.process.wait(timeout=30)

    def stop(self, timeout: float = 20.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()


def free_port(candidates: range | None = None) -> int:
    """A port nothing listens on: the first free one of `candidates`, else any.

    Tests that start servers of their own (Redis, PostgreSQL, SMTP) take them
    from a fixed range so that a leftover process is easy to recognise.
    """
    if candidates is None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])
    for port in candidates:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {candidates.start}-{candidates.stop - 1}")


def wait_for(
    check: Callable[[], object], timeout: float, what: str, every: float = 0.1
) -> None:
    """Poll `check()` until it is true; AssertionError naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
