"""Real remotes for the connection tests: an HTTP data source (http.server in a
thread), an SMTP server (aiosmtpd in a thread) and a Redis with a password
(our own redis-server, so the shared one is never touched)."""

from __future__ import annotations

import email
import email.policy
import http.server
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest

from tests.support.services import free_port, service_missing

SOURCE_TOKEN = "src-token-7c1e-d4f0-a9b8-5e6f"
SMTP_USER = "robot@example.com"
SMTP_PASSWORD = "smtp-pass-0b9d-41aa-8c2e"
REDIS_PASSWORD = "redis-pass-f31c-77de-b0a4"
ORDERS = b'[{"id": 1, "total": "19.90"}, {"id": 2, "total": "5.00"}]'
# Ports of the SMTP servers and the password-protected Redis these tests start.
SMTP_PORTS = range(16600, 16650)
REDIS_PORTS = range(55460, 55470)


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- The data source -----------------------------------------------------------------
class _Source(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.headers.get("Authorization") != f"Bearer {SOURCE_TOKEN}":
            self._answer(401, b'{"error": "unauthorised"}')
        elif self.path.startswith("/api/orders"):
            self._answer(200, ORDERS)
        else:
            self._answer(200, b'{"service": "orders"}')

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def data_source() -> Iterator[str]:
    """Base URL of a local REST source that wants SOURCE_TOKEN as a bearer."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Source)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/"
    server.shutdown()
    server.server_close()


# --- The SMTP server -----------------------------------------------------------------
@dataclass
class SmtpServer:
    port: int
    received: list[EmailMessage] = field(default_factory=list)
    envelopes: list[Any] = field(default_factory=list)
    refuse_logins: bool = False
    # Answer QUIT with 421 this many more times: the message was accepted,
    # but the client sees the session end in an error.
    failing_quits: int = 0
    logins: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        self.received.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)  # type: ignore[arg-type]
        )
        return "250 Message accepted for delivery"

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        if self.failing_quits > 0:
            self.failing_quits -= 1
            return "421 4.3.0 Closing with an error after the message"
        return "221 Bye"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> Any:
        from aiosmtpd.smtp import AuthResult

        self.logins += 1
        ok = (
            not self.refuse_logins
            and data.login.decode() == SMTP_USER
            and data.password.decode() == SMTP_PASSWORD
        )
        # handled=False: aiosmtpd answers 535 itself.
        return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    from aiosmtpd.controller import Controller

    state = SmtpServer(port=free_port(SMTP_PORTS))
    controller = Controller(
        state,
        hostname="127.0.0.1",
        port=state.port,
        authenticator=state.authenticate,
        auth_required=True,
        auth_require_tls=False,  # plain on loopback; the security setting is "none"
    )
    # (aiosmtpd warns that AUTH without TLS is unsafe: on loopback in a test.)
    controller.start()
    yield state
    controller.stop()


# --- Our own Redis with a password -------------------------------------------
@pytest.fixture(scope="session")
def own_redis() -> Iterator[str]:
    """redis://127.0.0.1:PORT/0 of a redis-server that wants REDIS_PASSWORD."""
    binary = shutil.which("redis-server")
    if binary is None:
        service_missing("needs redis-server on PATH for a Redis with a password")
        return
    port = free_port(REDIS_PORTS)
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--requirepass", REDIS_PASSWORD],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_for_port(port)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_for_port(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"redis-server did not listen on {port}")


def redis_value(url: str, key: str) -> bytes | None:
    import redis

    client = redis.Redis.from_url(url, password=REDIS_PASSWORD)
    try:
        return client.get(key)  # type: ignore[return-value]
    finally:
        client.close()


# --- The three connections, as an editor would store them ---------------------
@pytest.fixture
def connections(
    data_source: str, smtp_server: SmtpServer, own_redis: str
) -> dict[str, Any]:
    from connections.services import connection_create

    rest = connection_create(
        name="My Data Source",
        kind="rest",
        settings={"base_url": data_source, "auth": "bearer", "timeout_seconds": 5},
        secrets={"token": SOURCE_TOKEN},
    )
    smtp = connection_create(
        name="My SMTP",
        kind="smtp",
        settings={
            "host": "127.0.0.1",
            "port": smtp_server.port,
            "security": "none",
            "username": SMTP_USER,
            "from_address": SMTP_USER,
            "timeout_seconds": 5,
        },
        secrets={"password": SMTP_PASSWORD},
    )
    cache = connection_create(
        name="cache",
        kind="redis",
        settings={"url": own_redis, "timeout_seconds": 3},
        secrets={"password": REDIS_PASSWORD},
    )
    return {"rest": rest, "smtp": smtp, "redis": cache}


def sync_input(key: str = "orders:new", **changes: Any) -> dict[str, Any]:
    payload = {
        "rest": "My Data Source",
        "path": "orders",
        "redis": "cache",
        "key": key,
        "smtp": "My SMTP",
        "to": ["ops@example.com", "boss@example.com"],
        "cc": ["audit@example.com"],
        "subject": "New orders",
        "body": "The new orders are attached.",
        "attachment_name": "orders.json",
    }
    payload.update(changes)
    return payload
