"""One way of showing an instant: the viewer's zone, seconds, zone abbreviation.

The middleware activates the signed-in user's zone for the request; everything
that shows a time to a person (pages, log lines, messages) goes through
`format_instant` so that no page mixes zones or drops the label.
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import datetime, timedelta

from django.utils import timezone

# Set per request by the middleware from the user's profile (12- or 24-hour clock).
hour12_preference: ContextVar[bool] = ContextVar("hour12_preference", default=False)


def format_instant(value: datetime | None, *, hour12: bool | None = None) -> str:
    """'2026-12-01 08:18:51 JST' in the active zone; '' for None."""
    if value is None:
        return ""
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    use_12 = hour12_preference.get() if hour12 is None else hour12
    clock = "%I:%M:%S %p" if use_12 else "%H:%M:%S"
    return local.strftime(f"%Y-%m-%d {clock} %Z").strip()


def format_relative(value: datetime | None, *, now: datetime) -> str:
    """'in 3 min', '12 s ago', 'in 2 h 5 min', 'now'."""
    if value is None:
        return ""
    delta = value - now
    future = delta >= timedelta(0)
    seconds = int(abs(delta.total_seconds()))
    if seconds < 1:
        return "now"
    text = _span(seconds)
    return f"in {text}" if future else f"{text} ago"


def _span(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} s"
    minutes, _ = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours // 24} d"


def format_span(span: timedelta) -> str:
    """A duration as people read it: '12 s', '3 min', '2 h 5 min', '3 d'."""
    return _span(max(0, int(span.total_seconds())))
