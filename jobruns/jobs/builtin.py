"""Built-in services: echo, sleep, fail, an outgoing HTTP request, a runs report."""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import json
import socket
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from jobruns.jobs.base import Service, ServiceError
from jobruns.registry import register

HTTP_MAX_TIMEOUT = 120.0
HTTP_MAX_BODY = 1_048_576


@register
class Echo(Service):
    name = "core.echo"
    description = "Returns its input, args and extra text as its output."

    def handle(self) -> None:
        self.logger.info("echo with %d args", len(self.request.args))
        self.response.payload = {
            "input": self.request.payload,
            "args": self.request.args,
            "extra": self.request.raw_request,
        }


@register
class Sleep(Service):
    name = "core.sleep"
    description = "Sleeps for `seconds` (default 1), then returns how long it slept."
    input_schema = {
        "type": "object",
        "properties": {"seconds": {"type": "number", "minimum": 0}},
    }

    def handle(self) -> None:
        seconds = float(self.request.payload.get("seconds", 1))
        self.logger.info("sleeping %s s", seconds)
        time.sleep(seconds)
        self.response.payload = {"slept": seconds}


@register
class Fail(Service):
    name = "core.fail"
    description = "Always fails, with `message` from the input; for testing alerts."

    def handle(self) -> None:
        message = str(self.request.payload.get("message", "core.fail always fails"))
        raise RuntimeError(message)


@register
class HttpRequest(Service):
    name = "http.request"
    description = (
        "Calls a REST endpoint: `url`, or `path` on the outgoing REST connection "
        "named `connection` (its base URL, auth and timeout; the secrets stay in "
        "the connection). A bare `url` may not reach loopback, private or "
        "link-local addresses unless HTTP_REQUEST_ALLOW_PRIVATE is on."
    )
    input_schema = {
        "type": "object",
        "oneOf": [
            {"required": ["url"], "not": {"required": ["connection"]}},
            {"required": ["connection"], "not": {"required": ["url"]}},
        ],
        "properties": {
            "url": {"type": "string", "pattern": "^https?://"},
            "connection": {"type": "string", "minLength": 1},
            "path": {"type": "string"},
            "method": {"type": "string"},
            "headers": {"type": "object", "additionalProperties": {"type": "string"}},
            "json": {},
            "body": {"type": "string"},
            "timeout": {"type": "number", "exclusiveMinimum": 0},
            "fail_on_status": {"type": "boolean"},
        },
    }

    def handle(self) -> None:
        payload = self.request.payload
        method = str(payload.get("method", "GET")).upper()
        if "connection" in payload:
            self._through_connection(method, payload)
        else:
            self._to_url(method, payload)
        status = self.response.payload["status"]
        if status >= 400 and payload.get("fail_on_status", True):
            raise ServiceError(f"{method} answered {status}")

    def _to_url(self, method: str, payload: dict[str, Any]) -> None:
        timeout = min(float(payload.get("timeout", 10)), HTTP_MAX_TIMEOUT)
        request = urllib.request.Request(  # noqa: S310 (scheme checked by schema)
            payload["url"], method=method, headers=dict(payload.get("headers", {}))
        )
        if "json" in payload:
            request.data = json.dumps(payload["json"]).encode()
            request.add_header("Content-Type", "application/json")
        elif "body" in payload:
            request.data = str(payload["body"]).encode()
        self.logger.info("%s %s", method, _redacted_url(payload["url"]))
        status, headers, body = _send(request, timeout=timeout)
        self.logger.info("answered %s (%d bytes)", status, len(body))
        self.response.payload = _response(status, headers, body)

    def _through_connection(self, method: str, payload: dict[str, Any]) -> None:
        session = self.out.rest[payload["connection"]]
        options: dict[str, Any] = {"headers": dict(payload.get("headers", {}))}
        if "timeout" in payload:
            options["timeout"] = min(float(payload["timeout"]), HTTP_MAX_TIMEOUT)
        if "json" in payload:
            options["json"] = payload["json"]
        elif "body" in payload:
            options["data"] = str(payload["body"]).encode()
        path = str(payload.get("path", ""))
        self.logger.info(
            "%s %s on connection %r", method, path or "/", payload["connection"]
        )
        answer = session.request(method, path, check=False, stream=True, **options)
        with answer:
            body = answer.raw.read(HTTP_MAX_BODY, decode_content=True)
        self.logger.info("answered %s (%d bytes)", answer.status_code, len(body))
        self.response.payload = _response(
            answer.status_code, dict(answer.headers), body
        )


def _redacted_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{parts.path}"


def _response(status: int, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    text = body.decode("utf-8", "replace")
    result: dict[str, Any] = {"status": status, "headers": headers, "body": text}
    if "json" in headers.get("Content-Type", "").lower():
        with contextlib.suppress(ValueError):
            result["json"] = json.loads(text)
    return result


def checked_addresses(host: str, port: int) -> list[tuple[Any, ...]]:
    """Resolve `host` and refuse it if any address is not public (unless allowed).

    Every address is checked, not the first: a name with one public and one
    private record would otherwise reach the private one on a retry.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ServiceError(f"cannot resolve {host}: {exc.strerror}") from exc
    if not settings.HTTP_REQUEST_ALLOW_PRIVATE:
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
            if not address.is_global or address.is_multicast:
                raise ServiceError(
                    f"{host} resolves to {address}, a loopback, private or "
                    "link-local address; set HTTP_REQUEST_ALLOW_PRIVATE to allow it"
                )
    return infos


def _pinned(cls: type[http.client.HTTPConnection]) -> type[http.client.HTTPConnection]:
    """A connection class that connects only to the addresses it checked.

    Resolving once to check and again to connect would let DNS answer
    differently the second time (rebinding); so we connect to what we checked.
    TLS still verifies the certificate against the host name.
    """

    class Pinned(cls):  # type: ignore[valid-type,misc]
        def connect(self) -> None:
            infos = checked_addresses(self.host, self.port)
            self._create_connection = lambda _addr, *args, **kwargs: _connect_first(
                infos, self.timeout
            )
            super().connect()

    return Pinned


def _connect_first(infos: list[tuple[Any, ...]], timeout: Any) -> socket.socket:
    last: OSError | None = None
    for family, kind, proto, _name, address in infos:
        sock = socket.socket(family, kind, proto)
        sock.settimeout(timeout)
        try:
            sock.connect(address)
        except OSError as exc:
            sock.close()
            last = exc
            continue
        return sock
    raise last or OSError("no address to connect to")


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(_pinned(http.client.HTTPConnection), req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(
            _pinned(http.client.HTTPSConnection),
            req,
            context=self._context,  # type: ignore[attr-defined]
        )


def _send(
    request: urllib.request.Request, *, timeout: float
) -> tuple[int, dict[str, str], bytes]:
    # No ProxyHandler: an environment proxy would bypass the address check.
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), _HTTPHandler(), _HTTPSHandler()
    )
    try:
        with opener.open(request, timeout=timeout) as answer:
            return answer.status, dict(answer.headers), answer.read(HTTP_MAX_BODY)
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read(HTTP_MAX_BODY)
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, ServiceError):
            raise exc.reason from None
        raise ServiceError(f"request failed: {exc.reason}") from exc
    except (TimeoutError, OSError) as exc:
        raise ServiceError(f"request failed: {exc}") from exc


@register
class RunsCsv(Service):
    name = "reports.runs_csv"
    description = (
        "A CSV file of run history for a period: `since`/`until` (ISO 8601, "
        "default the last `hours`, 24) and optionally one `schedule`."
    )
    input_schema = {
        "type": "object",
        "properties": {
            "since": {"type": "string"},
            "until": {"type": "string"},
            "hours": {"type": "number", "exclusiveMinimum": 0},
            "schedule": {"type": "string"},
        },
    }
    COLUMNS = (
        "id", "schedule", "service", "trigger", "status", "scheduled_for",
        "queued_at", "started_at", "finished_at", "duration_s", "attempt", "error",
    )  # fmt: skip

    def handle(self) -> None:
        from jobruns.models import JobRun

        since, until = self._period()
        runs = JobRun.objects.filter(queued_at__gte=since, queued_at__lt=until)
        if self.request.payload.get("schedule"):
            runs = runs.filter(schedule_name=self.request.payload["schedule"])
        if self.run.id is not None:
            runs = runs.exclude(pk=self.run.id)
        out = self.result_file("runs.csv")
        out.writerow(self.COLUMNS)
        count = 0
        for run in runs.order_by("queued_at", "id").iterator():
            out.writerow(_row(run))
            count += 1
        self.logger.info("%d runs from %s to %s", count, since, until)
        self.response.payload = {
            "rows": count,
            "since": since.isoformat(),
            "until": until.isoformat(),
        }

    def _period(self) -> tuple[datetime, datetime]:
        payload = self.request.payload
        until = _instant(payload.get("until"), "until") or (
            self.run.scheduled_for or timezone.now()
        )
        hours = float(payload.get("hours", 24))
        since = _instant(payload.get("since"), "since") or until - timedelta(
            hours=hours
        )
        if since >= until:
            raise ServiceError("`since` must be before `until`")
        return since, until


def _instant(value: str | None, field: str) -> datetime | None:
    if not value:
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        raise ServiceError(f"`{field}` is not an ISO 8601 date-time: {value!r}")
    if timezone.is_naive(parsed):
        raise ServiceError(f"`{field}` needs a UTC offset, e.g. {value}Z")
    return parsed


def _row(run: Any) -> list[Any]:
    def iso(value: datetime | None) -> str:
        return value.isoformat() if value else ""

    duration = run.duration_seconds
    return [
        run.pk, run.schedule_name, run.service, run.trigger, run.status,
        iso(run.scheduled_for), iso(run.queued_at), iso(run.started_at),
        iso(run.finished_at), "" if duration is None else f"{duration:.3f}",
        run.attempt, run.error,
    ]  # fmt: skip
