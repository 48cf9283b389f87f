"""Clients for outgoing connections, looked up by name: what services use.

``self.out.rest["My Data Source"]`` is a requests session with the base URL,
auth, timeout and TLS choice of the connection applied; ``self.out.redis["cache"]``
a redis-py client; ``self.email.smtp["My SMTP"]`` sends one message through
smtplib (or through Django's EMAIL_BACKEND when the host is ``django:``).
Every failure (unknown name, refused login, remote down, HTTP error status)
raises ``ConnectionFailure`` whose message names the kind and the connection;
secrets are never part of a message.
"""

from __future__ import annotations

import copy
import ipaddress
import mimetypes
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

import redis
import requests
from django.conf import settings

from connections.kinds import DEFAULT_SMTP_PORTS, DJANGO_EMAIL_HOST
from connections.models import OutgoingConnection

Kind = OutgoingConnection.Kind
TEST_TIMEOUT_SECONDS = 10.0


class ConnectionFailure(Exception):
    """A named connection could not be used; the message names it."""

    def __init__(self, kind: str, name: str, problem: str) -> None:
        self.kind, self.name, self.problem = kind, name, problem
        super().__init__(f"{kind} connection {name!r}: {problem}")


class ConnectionNotFound(ConnectionFailure):
    def __init__(self, kind: str, name: str) -> None:
        super().__init__(kind, name, f"no {kind} connection has this name")


def connection_for(kind: str, name: str) -> OutgoingConnection:
    try:
        return OutgoingConnection.objects.get(name=name, kind=kind)
    except OutgoingConnection.DoesNotExist:
        raise ConnectionNotFound(kind, name) from None


def check_host(kind: str, name: str, host: str, port: int) -> None:
    """Refuse loopback, private and link-local addresses if the site says so.

    Allowed by default: an editor chose the address (CONNECTIONS_ALLOW_PRIVATE).
    Every resolved address is checked, not the first one.
    """
    if settings.CONNECTIONS_ALLOW_PRIVATE:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ConnectionFailure(
            kind, name, f"cannot resolve {host}: {exc.strerror}"
        ) from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_global or address.is_multicast:
            raise ConnectionFailure(
                kind,
                name,
                f"{host} resolves to {address}, a loopback, private or link-local "
                "address, and CONNECTIONS_ALLOW_PRIVATE is off",
            )


# --- REST ------------------------------------------------------------------------
class RestSession(requests.Session):
    """A session bound to one base URL: paths are relative to it, always."""

    def __init__(self, connection: OutgoingConnection) -> None:
        super().__init__()
        self.connection_name = connection.name
        base = connection.setting("base_url")
        self.base_url = base.rstrip("/") + "/"
        self.timeout = float(connection.setting("timeout_seconds", 10))
        self.verify = bool(connection.setting("verify_tls", True))
        # No proxies or .netrc from the environment: the connection says where
        # to go and how to sign in, nothing else.
        self.trust_env = False
        self._secret_header = ""
        _apply_auth(self, connection)
        parts = urlsplit(base)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        check_host(Kind.REST, self.connection_name, parts.hostname or "", port)

    def url_for(self, path: str) -> str:
        """``path`` joined to the base URL; an absolute URL is refused, so the
        connection's credentials are never sent to another host."""
        parts = urlsplit(path)
        if parts.scheme or parts.netloc or path.startswith("//"):
            raise self.failure(
                f"{path!r} is not a path; paths are relative to the base URL "
                f"{self.base_url}"
            )
        return self.base_url + path.lstrip("/") if path else self.base_url

    def request(  # type: ignore[override]
        self, method: str, url: str, *args: Any, check: bool = True, **kwargs: Any
    ) -> requests.Response:
        """As requests' own; `check` (default on) raises on an HTTP error status."""
        kwargs.setdefault("timeout", self.timeout)
        # Always streamed underneath, so an oversized body is never read whole.
        streamed = bool(kwargs.get("stream"))
        kwargs["stream"] = True
        where = f"{method.upper()} {url or '/'}"
        try:
            response = super().request(method, self.url_for(url), *args, **kwargs)
            if not streamed:
                self._read_capped(response, where)
        except requests.RequestException as exc:
            raise self.failure(f"{where} failed: {_reason(exc)}") from None
        if check and response.status_code >= 400:
            raise self.failure(
                f"{where} answered {response.status_code} {response.reason}"
            )
        return response

    def _read_capped(self, response: requests.Response, where: str) -> None:
        """Read the body, refusing one over CONNECTIONS_REST_MAX_BYTES.

        requests has no size limit of its own: a remote answering gigabytes
        would fill the worker's memory (and the run's output) before any
        check could run. Read in chunks and stop at the cap instead.
        """
        cap = settings.CONNECTIONS_REST_MAX_BYTES
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_content(chunk_size=64 * 1024):
            size += len(chunk)
            if size > cap:
                response.close()
                raise self.failure(
                    f"{where} answered more than {cap:,} bytes "
                    "(CONNECTIONS_REST_MAX_BYTES); the body was not read"
                )
            chunks.append(chunk)
        # What response.content would have read, kept so .content/.json() work.
        response._content = b"".join(chunks)

    def rebuild_auth(
        self, prepared_request: requests.PreparedRequest, response: requests.Response
    ) -> None:
        # requests drops Authorization when a redirect leaves the host; a
        # custom header carrying a secret must go too.
        super().rebuild_auth(prepared_request, response)
        old = response.request.url or ""
        if self._secret_header and self.should_strip_auth(
            old, prepared_request.url or ""
        ):
            prepared_request.headers.pop(self._secret_header, None)

    def failure(self, problem: str) -> ConnectionFailure:
        return ConnectionFailure(Kind.REST, self.connection_name, problem)


def _apply_auth(session: RestSession, connection: OutgoingConnection) -> None:
    secrets = connection.secrets()
    auth = connection.setting("auth", "none")
    if auth == "basic":
        session.auth = (connection.setting("username"), secrets.get("password", ""))
    elif auth == "bearer":
        session.headers["Authorization"] = f"Bearer {secrets.get('token', '')}"
        session._secret_header = "Authorization"  # noqa: S105 (a header name)
    elif auth == "header":
        header = connection.setting("header_name")
        session.headers[header] = secrets.get("header_value", "")
        session._secret_header = header


def _reason(exc: Exception) -> str:
    """The innermost cause, without the URL (it may carry a query) repeated."""
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.ConnectionError):
        return "could not connect (refused, unreachable or closed)"
    return type(exc).__name__


# --- Redis -----------------------------------------------------------------------
class RedisClient(redis.Redis):
    """redis-py's client; any Redis error becomes a ConnectionFailure naming it."""

    connection_name = ""

    def execute_command(self, *args: Any, **options: Any) -> Any:
        try:
            return super().execute_command(*args, **options)
        except redis.RedisError as exc:
            command = str(args[0]) if args else "command"
            raise ConnectionFailure(
                Kind.REDIS, self.connection_name, f"{command} failed: {exc}"
            ) from None


def redis_client(connection: OutgoingConnection) -> RedisClient:
    url = connection.setting("url")
    timeout = float(connection.setting("timeout_seconds", 10))
    parts = urlsplit(url)
    if parts.scheme != "unix":
        check_host(
            Kind.REDIS, connection.name, parts.hostname or "", parts.port or 6379
        )
    pool = redis.ConnectionPool.from_url(
        url,
        password=connection.secrets().get("password") or None,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
    )
    client = RedisClient(connection_pool=pool)
    client.auto_close_connection_pool = True  # ours alone: closed with the client
    client.connection_name = connection.name
    return client


# --- SMTP ------------------------------------------------------------------------
@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes | str
    mimetype: str = ""


AttachmentLike = Attachment | tuple[str, bytes | str] | tuple[str, bytes | str, str]


class SmtpClient:
    """Sends messages through one SMTP connection (one session per message)."""

    def __init__(self, connection: OutgoingConnection) -> None:
        self.connection = connection
        self.name = connection.name
        self.host = connection.setting("host")
        self.security = connection.setting("security", "starttls")
        self.port = connection.setting("port") or DEFAULT_SMTP_PORTS[self.security]
        self.timeout = float(connection.setting("timeout_seconds", 10))
        self.from_address = connection.setting("from_address")
        if self.host != DJANGO_EMAIL_HOST:
            check_host(Kind.SMTP, self.name, self.host, self.port)

    def message(
        self,
        *,
        to: Sequence[str],
        subject: str,
        body: str = "",
        cc: Sequence[str] = (),
        attachments: Iterable[AttachmentLike] = (),
        message_id: str | None = None,
    ) -> EmailMessage:
        """The message `send` would send (a new Message-ID unless one is given)."""
        message = EmailMessage()
        message["From"] = self.from_address
        message["To"] = ", ".join(to)
        if cc:
            message["Cc"] = ", ".join(cc)
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = message_id or make_msgid(
            domain=self.from_address.rpartition("@")[2] or None
        )
        message.set_content(body or "")
        for item in attachments:
            _attach(
                message, item if isinstance(item, Attachment) else Attachment(*item)
            )
        return message

    def send(
        self,
        *,
        to: Sequence[str],
        subject: str,
        body: str = "",
        cc: Sequence[str] = (),
        bcc: Sequence[str] = (),
        attachments: Iterable[AttachmentLike] = (),
        message_id: str | None = None,
        on_accepted: Callable[[str], None] | None = None,
    ) -> str:
        """Send one message; its Message-ID. `on_accepted(message_id)` runs as
        soon as the server took the message, before the session closes, so a
        caller can record it even if closing fails."""
        if not to:
            raise self.failure("a message needs at least one `to` address")
        message = self.message(
            to=to, subject=subject, body=body, cc=cc, attachments=attachments,
            message_id=message_id,
        )  # fmt: skip
        message_id = str(message["Message-ID"])
        recipients = [*to, *cc, *bcc]
        if self.host == DJANGO_EMAIL_HOST:
            self._send_with_django(message, recipients)
            if on_accepted:
                on_accepted(message_id)
            return message_id
        try:
            with self._session() as session:
                session.send_message(message, to_addrs=recipients)
                if on_accepted:
                    on_accepted(message_id)
        except smtplib.SMTPAuthenticationError as exc:
            raise self.failure(
                f"the server refused the login ({_smtp_reply(exc)})"
            ) from None
        except smtplib.SMTPResponseException as exc:
            raise self.failure(f"the server answered {_smtp_reply(exc)}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise self.failure(f"sending failed: {type(exc).__name__}: {exc}") from None
        return message_id

    def check(self) -> str:
        """Connect, secure, sign in, NOOP; a sentence saying what was done."""
        if self.host == DJANGO_EMAIL_HOST:
            return f"sends through Django's EMAIL_BACKEND ({settings.EMAIL_BACKEND})"
        try:
            with self._session() as session:
                session.noop()
        except smtplib.SMTPAuthenticationError as exc:
            raise self.failure(
                f"the server refused the login ({_smtp_reply(exc)})"
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise self.failure(f"{type(exc).__name__}: {exc}") from None
        signed_in = " and signed in" if self.connection.setting("username") else ""
        return f"connected to {self.host}:{self.port} ({self.security}){signed_in}"

    def _session(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        session: smtplib.SMTP
        if self.security == "tls":
            session = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=context
            )
        else:
            session = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.security == "starttls":
                session.starttls(context=context)
            username = self.connection.setting("username")
            if username:
                session.login(username, self.connection.secrets().get("password", ""))
        except BaseException:
            session.close()
            raise
        return session

    def _send_with_django(self, message: EmailMessage, recipients: list[str]) -> None:
        from django.core.mail import get_connection

        # Django's backends take Django messages; wrap ours (headers, parts
        # and Message-ID unchanged) by handing over its bytes as they are.
        wrapped = _PrebuiltMessage(message, recipients)
        try:
            get_connection(fail_silently=False).send_messages([wrapped])  # type: ignore[list-item]
        except Exception as exc:  # whatever the configured backend raises
            raise self.failure(f"Django's EMAIL_BACKEND failed: {exc}") from None

    def failure(self, problem: str) -> ConnectionFailure:
        return ConnectionFailure(Kind.SMTP, self.name, problem)


class _PrebuiltMessage:
    """Quacks like django.core.mail.EmailMessage for the backends (they call
    message(), recipients() and read from_email / encoding)."""

    encoding = "utf-8"

    def __init__(self, message: EmailMessage, recipients: list[str]) -> None:
        self._message = message
        self._recipients = recipients
        self.from_email = str(message["From"])

    def message(self) -> EmailMessage:
        return self._message

    def recipients(self) -> list[str]:
        return self._recipients


def _attach(message: EmailMessage, attachment: Attachment) -> None:
    mimetype = (
        attachment.mimetype
        or mimetypes.guess_type(attachment.filename)[0]
        or "application/octet-stream"
    )
    maintype, _, subtype = mimetype.partition("/")
    content = attachment.content
    if isinstance(content, str):
        content = content.encode()
    message.add_attachment(
        content, maintype=maintype, subtype=subtype, filename=attachment.filename
    )


def _smtp_reply(exc: smtplib.SMTPResponseException) -> str:
    text = (
        exc.smtp_error.decode("utf-8", "replace")
        if isinstance(exc.smtp_error, bytes)
        else str(exc.smtp_error)
    )
    return f"{exc.smtp_code} {text}".strip()


# --- By name, for services ---------------------------------------------------------
Client = TypeVar("Client")


class ByName(Generic[Client]):
    """``connections["name"]``: the client of that connection, made once."""

    def __init__(
        self, kind: str, factory: Callable[[OutgoingConnection], Client]
    ) -> None:
        self.kind = kind
        self.factory = factory
        self.clients: dict[str, Client] = {}

    def __getitem__(self, name: str) -> Client:
        if name not in self.clients:
            self.clients[name] = self.factory(connection_for(self.kind, name))
        return self.clients[name]

    def close(self) -> None:
        for client in self.clients.values():
            close = getattr(client, "close", None)
            if close is not None:
                close()
        self.clients.clear()


class Outgoing:
    """``self.out`` of a service: REST and Redis connections by name."""

    def __init__(self) -> None:
        self.rest: ByName[RestSession] = ByName(Kind.REST, RestSession)
        self.redis: ByName[RedisClient] = ByName(Kind.REDIS, redis_client)

    def close(self) -> None:
        self.rest.close()
        self.redis.close()


class Email:
    """``self.email`` of a service: SMTP connections by name."""

    def __init__(self) -> None:
        self.smtp: ByName[SmtpClient] = ByName(Kind.SMTP, SmtpClient)

    def close(self) -> None:
        self.smtp.close()


# --- Testing a connection (the Test button and POST .../test/) ---------------------
def check_connection(connection: OutgoingConnection) -> tuple[bool, float, str]:
    """Connect and authenticate: (ok, latency in ms, what happened or why not).

    A test holds a web request, so it waits at most TEST_TIMEOUT_SECONDS even
    for a connection whose services may wait longer.
    """
    connection = copy.copy(connection)
    timeout = float(connection.setting("timeout_seconds") or TEST_TIMEOUT_SECONDS)
    connection.settings = {
        **connection.settings,
        "timeout_seconds": min(timeout, TEST_TIMEOUT_SECONDS),
    }
    started = time.monotonic()
    try:
        detail = _CHECKS[connection.kind](connection)
        ok = True
    except ConnectionFailure as exc:
        ok, detail = False, exc.problem
    return ok, round((time.monotonic() - started) * 1000, 1), detail


def _check_rest(connection: OutgoingConnection) -> str:
    with RestSession(connection) as session:
        response = session.request("GET", "", check=False)
        if response.status_code in (401, 403):
            raise session.failure(
                f"GET {session.base_url} answered {response.status_code}: the "
                "credentials were refused"
            )
        if response.status_code >= 500:
            raise session.failure(
                f"GET {session.base_url} answered {response.status_code}"
            )
    return f"GET {session.base_url} answered {response.status_code}"


def _check_redis(connection: OutgoingConnection) -> str:
    client = redis_client(connection)
    try:
        client.ping()
    finally:
        client.close()
    return "PING answered PONG"


def _check_smtp(connection: OutgoingConnection) -> str:
    return SmtpClient(connection).check()


_CHECKS: dict[str, Callable[[OutgoingConnection], str]] = {
    Kind.REST: _check_rest,
    Kind.REDIS: _check_redis,
    Kind.SMTP: _check_smtp,
}
