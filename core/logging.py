"""Log context (run and execution ids) and secret redaction for every log line."""

from __future__ import annotations

import contextvars
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

_context: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "log_context", default=None
)

# key=value, "key": "value" and `Authorization: Bearer x` forms of secret-looking keys.
_SECRET_PAIR = re.compile(
    r"(?P<key>[\"']?(?:password|passwd|secret|api[_-]?key|token|authorization"
    r"|key[_-]?secret)[\"']?\s*[:=]\s*)"
    r"(?P<value>\"[^\"]*\"|'[^']*'|(?:(?:Bearer|Basic|Token)\s+)?[^\s,;&}]+)",
    re.IGNORECASE,
)


@contextmanager
def log_context(**values: object) -> Iterator[None]:
    """Add ``run=…`` or ``execution=…`` to every log line written inside the block."""
    merged = {**(_context.get() or {}), **{k: str(v) for k, v in values.items()}}
    token = _context.set(merged)
    try:
        yield
    finally:
        _context.reset(token)


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        values = _context.get() or {}
        record.context = "".join(f"{k}={v} " for k, v in values.items())
        return True


def redact(text: str) -> str:
    return _SECRET_PAIR.sub(lambda m: f"{m.group('key')}[redacted]", text)


class RedactSecretsFilter(logging.Filter):
    """Last line of defence: code must not log secrets, but if it does, mask them."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
