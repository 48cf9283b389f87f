"""Outgoing HTTP for components: JSON GETs with a timeout and an address check.

Components call hosts their users typed in, so, like jobruns' ``http.request``,
loopback, private and link-local addresses are refused unless
``HTTP_REQUEST_ALLOW_PRIVATE`` is on. The demo shop is the one exception: it is
served by this very site on a laptop, so loopback is allowed while
``DEMO_SHOP_ENABLED`` is on (never in production settings).
"""

from __future__ import annotations

import ipaddress
import json
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings

MAX_BODY = 5 * 1_048_576


class HttpError(Exception):
    """The request did not produce an answer (refused, unreachable, timed out)."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: Any


def _check_host(host: str, port: int) -> None:
    if settings.HTTP_REQUEST_ALLOW_PRIVATE:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise HttpError(f"cannot resolve {host}: {exc.strerror}") from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if address.is_loopback and settings.DEMO_SHOP_ENABLED:
            continue
        if not address.is_global or address.is_multicast:
            raise HttpError(
                f"{host} resolves to {address}, a loopback, private or link-local "
                "address; set HTTP_REQUEST_ALLOW_PRIVATE to allow it"
            )


def get_json(
    url: str,
    *,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    timeout: float,
) -> Answer:
    """GET ``url``; the body is parsed JSON (or None when it is not JSON)."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise HttpError(f"{url!r} is not an http(s) URL")
    _check_host(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    full = f"{url}?{urlencode(params)}" if params else url
    request = urllib.request.Request(full, headers=headers or {})  # noqa: S310
    # No ProxyHandler: an environment proxy would bypass the address check.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout) as answer:
            return _answer(answer.status, dict(answer.headers), answer.read(MAX_BODY))
    except urllib.error.HTTPError as exc:
        return _answer(exc.code, dict(exc.headers), exc.read(MAX_BODY))
    except (urllib.error.URLError, OSError) as exc:
        # Never echo `full`: it may carry credentials as query parameters.
        reason = getattr(exc, "reason", exc)
        raise HttpError(f"cannot reach {parts.hostname}: {reason}") from None


def _answer(status: int, headers: dict[str, str], raw: bytes) -> Answer:
    try:
        body = json.loads(raw.decode("utf-8")) if raw else None
    except ValueError:
        body = None
    return Answer(status=status, headers=headers, body=body)
