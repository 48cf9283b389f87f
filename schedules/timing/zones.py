"""Time-zone loading and the aware-datetime guard shared by the timing modules."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.zones import is_civil_zone_name
from schedules.timing.errors import TimingError


def load_zone(name: str) -> ZoneInfo:
    """Return the IANA zone called `name`, or raise TimingError("time_zone", ...)."""
    if not isinstance(name, str) or not name.strip():
        raise TimingError(
            "time_zone", "a time zone name such as 'Europe/Berlin' is required"
        )
    if not is_civil_zone_name(name):
        raise TimingError(
            "time_zone",
            f"{name!r} is not a place's time zone; name one such as 'Europe/Berlin'",
        )
    try:
        return ZoneInfo(name)
    # ZoneInfo raises ValueError for path-like keys ("../x") and OSError-ish
    # subclasses for unreadable files; to the user all of them mean "unknown".
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise TimingError("time_zone", f"unknown time zone {name!r}") from None


def require_aware(value: datetime, name: str) -> datetime:
    """Return `value` in UTC; a naive datetime is a programming error, not bad input."""
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise TypeError(f"{name} must be timezone-aware, got naive {value!r}")
    return value.astimezone(UTC)
