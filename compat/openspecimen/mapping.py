"""OpenSpecimen's repeat schedules and dates, mapped onto our schedules and back.

Django-free: plain values in, plain values out, so every mapping decision is
tested without a database.

| repeatSchedule | our schedule (read in the job's zone, the creator's zone) |
| --- | --- |
| MINUTELY n | interval of n minutes from startDate |
| HOURLY :mm every h | cron ``mm */h * * *`` (``mm * * * *`` when h is 1) |
| DAILY hh:mm | cron ``mm hh * * *`` |
| WEEKLY day hh:mm | cron ``mm hh * * d`` (0 = Sunday) |
| MONTHLY d hh:mm | cron ``mm hh d * *`` (a 31st fires only in 31-day months) |
| ONDEMAND | one-time at ONDEMAND_RUN_AT (year 9999): never fires by itself |

ONDEMAND is a far one-time schedule rather than a paused one because "resume
all" (admin, Conductor) must never wake it up; nothing else is special about
it, so runs on request work like any other schedule's. HOURLY counts hours
from midnight, like cron: for an interval that does not divide 24 (say 5) the
last gap of the day is shorter, where OpenSpecimen would keep adding 5 h.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

REPEAT_SCHEDULES = ("MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "ONDEMAND")
DAYS_OF_WEEK = (
    "SUNDAY",
    "MONDAY",
    "TUESDAY",
    "WEDNESDAY",
    "THURSDAY",
    "FRIDAY",
    "SATURDAY",
)  # index = Unix cron day of week
# Far enough to never fire; not datetime.max, so converting it to any zone and
# adding a catch-up window still fits in a datetime.
ONDEMAND_RUN_AT = datetime(9999, 1, 1, tzinfo=UTC)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MIN_YEAR, MAX_YEAR = 1900, 9998

_CRON = re.compile(
    r"^(?P<minute>\d{1,2}) (?P<hour>\*|\*/\d{1,2}|\d{1,2}) "
    r"(?P<dom>\*|\d{1,2}) \* (?P<dow>\*|\d)$"
)


class MappingError(ValueError):
    """A job definition we cannot map; `code` is OpenSpecimen's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Repeat:
    """The timing half of a ScheduledJobDetail."""

    schedule: str
    minute: int | None = None
    hour: int | None = None
    day_of_week: str | None = None
    day_of_month: int | None = None
    hourly_interval: int | None = None
    minutely_interval: int | None = None

    def as_detail(self) -> dict[str, Any]:
        return {
            "repeatSchedule": self.schedule,
            "scheduledMinute": self.minute,
            "scheduledHour": self.hour,
            "scheduledDayOfWeek": self.day_of_week,
            "scheduledDayOfMonth": self.day_of_month,
            "hourlyInterval": self.hourly_interval,
            "minutelyInterval": self.minutely_interval,
        }


NO_REPEAT = Repeat(schedule="")


# --- OpenSpecimen -> ours -------------------------------------------------------------
def repeat_from_detail(detail: Mapping[str, Any]) -> Repeat:
    """Validate the repeat fields of a ScheduledJobDetail (MappingError if bad)."""
    name = detail.get("repeatSchedule")
    if name in (None, ""):
        raise MappingError("REPEAT_SCHEDULE_REQUIRED", "Repeat schedule is required.")
    if name not in REPEAT_SCHEDULES:
        raise MappingError(
            "INVALID_REPEAT_SCHEDULE",
            f"Invalid repeat schedule {name!r}; use one of "
            + ", ".join(REPEAT_SCHEDULES)
            + ".",
        )
    if name == "ONDEMAND":
        return Repeat("ONDEMAND")
    if name == "MINUTELY":
        # A zero interval has no meaning; OpenSpecimen's default 1 stands for it.
        every = _number(detail, "minutelyInterval", 0, 10**6, default=1) or 1
        return Repeat("MINUTELY", minute=0, minutely_interval=every)
    minute = _number(detail, "scheduledMinute", 0, 59)
    if name == "HOURLY":
        every = _number(detail, "hourlyInterval", 1, 23, default=1)
        return Repeat("HOURLY", minute=minute, hourly_interval=every)
    hour = _number(detail, "scheduledHour", 0, 23)
    if name == "DAILY":
        return Repeat("DAILY", minute=minute, hour=hour)
    if name == "WEEKLY":
        day = detail.get("scheduledDayOfWeek")
        if day not in DAYS_OF_WEEK:
            raise MappingError(
                "INVALID_SCHEDULED_TIME",
                f"Invalid scheduledDayOfWeek {day!r}; use SUNDAY to SATURDAY.",
            )
        return Repeat("WEEKLY", minute=minute, hour=hour, day_of_week=day)
    day_of_month = _number(detail, "scheduledDayOfMonth", 1, 31)
    return Repeat("MONTHLY", minute=minute, hour=hour, day_of_month=day_of_month)


def _number(
    detail: Mapping[str, Any],
    field: str,
    low: int,
    high: int,
    default: int | None = None,
) -> int:
    value = detail.get(field)
    if value is None and default is not None:
        return default
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not low <= value <= high
    ):
        raise MappingError(
            "INVALID_SCHEDULED_TIME",
            f"Invalid {field} {value!r}; it must be a whole number from {low} "
            f"to {high}.",
        )
    return value


def timing_fields(repeat: Repeat) -> dict[str, Any]:
    """Our schedule's timing fields for `repeat` (kind and its own fields)."""
    if repeat.schedule == "ONDEMAND":
        return {"kind": "one_time", "run_at": ONDEMAND_RUN_AT}
    if repeat.schedule == "MINUTELY":
        return {"kind": "interval", "interval_minutes": repeat.minutely_interval}
    return {"kind": "cron", "cron_expression": _cron(repeat)}


def _cron(repeat: Repeat) -> str:
    minute = repeat.minute
    if repeat.schedule == "HOURLY":
        every = repeat.hourly_interval or 1
        return f"{minute} {'*' if every == 1 else f'*/{every}'} * * *"
    if repeat.schedule == "DAILY":
        return f"{minute} {repeat.hour} * * *"
    if repeat.schedule == "WEEKLY":
        day = DAYS_OF_WEEK.index(repeat.day_of_week or "")
        return f"{minute} {repeat.hour} * * {day}"
    return f"{minute} {repeat.hour} {repeat.day_of_month} * *"


# --- ours -> OpenSpecimen -------------------------------------------------------------
def repeat_from_schedule(
    *,
    kind: str,
    run_at: datetime | None,
    cron_expression: str,
    interval: timedelta,
    repeats: int | None,
) -> Repeat:
    """The repeat schedule of one of our schedules; NO_REPEAT when none fits.

    Exact for every job created through this API; a schedule created elsewhere
    whose timing OpenSpecimen cannot express (a 90-second interval, a cron with
    lists or ranges, a real one-time run) has no repeat schedule.
    """
    if kind == "one_time":
        return Repeat("ONDEMAND") if run_at == ONDEMAND_RUN_AT else NO_REPEAT
    if kind == "interval":
        minutes, rest = divmod(int(interval.total_seconds()), 60)
        if rest or not minutes or repeats is not None:
            return NO_REPEAT
        return Repeat("MINUTELY", minute=0, minutely_interval=minutes)
    if kind == "cron":
        return _repeat_from_cron(cron_expression)
    return NO_REPEAT


def _repeat_from_cron(expression: str) -> Repeat:
    match = _CRON.match(" ".join(expression.split()))
    if match is None:
        return NO_REPEAT
    minute, hour = int(match["minute"]), match["hour"]
    dom, dow = match["dom"], match["dow"]
    if minute > 59:
        return NO_REPEAT
    if hour.startswith("*"):
        every = int(hour[2:]) if hour.startswith("*/") else 1
        if dom != "*" or dow != "*" or not 1 <= every <= 23:
            return NO_REPEAT
        return Repeat("HOURLY", minute=minute, hourly_interval=every)
    hour_value = int(hour)
    if hour_value > 23:
        return NO_REPEAT
    if dom == "*" and dow == "*":
        return Repeat("DAILY", minute=minute, hour=hour_value)
    if dom == "*" and int(dow) < len(DAYS_OF_WEEK):
        day = DAYS_OF_WEEK[int(dow)]
        return Repeat("WEEKLY", minute=minute, hour=hour_value, day_of_week=day)
    if dow == "*" and 1 <= int(dom) <= 31:
        day_of_month = int(dom)
        return Repeat(
            "MONTHLY", minute=minute, hour=hour_value, day_of_month=day_of_month
        )
    return NO_REPEAT


# --- dates --------------------------------------------------------------------------
def to_millis(value: datetime | None) -> int | None:
    """Epoch milliseconds, as Jackson writes a java.util.Date."""
    if value is None:
        return None
    return (value - _EPOCH) // timedelta(milliseconds=1)


_ZONELESS_FORMATS = (
    (re.compile(r"^\d{8}$"), "%Y%m%d"),  # wiki: yyyyMMdd
    (re.compile(r"^\d{8}T\d{6}$"), "%Y%m%dT%H%M%S"),  # wiki: yyyyMMdd'T'HHmmss
    (re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$"), "%Y-%m-%d %H:%M"),  # controller
)


def parse_date(value: Any, zone: ZoneInfo) -> datetime:
    """An aware UTC instant from any date OpenSpecimen accepts (ValueError if none).

    Epoch milliseconds (a number, or digits longer than yyyyMMdd), ISO 8601
    (``yyyy-MM-dd'T'HH:mm:ss.SSSX`` and its relatives) and the three zone-less
    forms ``yyyyMMdd``, ``yyyyMMdd'T'HHmmss`` and ``yyyy-MM-dd HH:mm``. A time
    without an offset is a wall-clock time in `zone` (the user's zone); in a
    DST fold it means the first occurrence, in a gap the clock's later reading.
    """
    if isinstance(value, bool):
        raise ValueError(f"not a date: {value!r}")
    if isinstance(value, int | float):
        return _from_millis(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"not a date: {value!r}")
    text = value.strip()
    if re.fullmatch(r"-?\d{9,}", text):
        return _from_millis(int(text))
    for pattern, layout in _ZONELESS_FORMATS:
        if pattern.match(text):
            wall = datetime.strptime(text, layout)  # noqa: DTZ007 (zone-less by design)
            return _in_range(_in_zone(wall, zone))
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        return _in_range(_in_zone(parsed, zone))
    return _in_range(parsed.astimezone(UTC))


def _from_millis(value: float) -> datetime:
    try:
        return _in_range(_EPOCH + timedelta(milliseconds=value))
    except OverflowError:
        raise ValueError(f"epoch milliseconds out of range: {value!r}") from None


def _in_range(instant: datetime) -> datetime:
    # Years 1 and 9999 sit at datetime's edges, where time arithmetic overflows.
    if not MIN_YEAR <= instant.year <= MAX_YEAR:
        raise ValueError(f"dates must lie between {MIN_YEAR} and {MAX_YEAR}")
    return instant


def _in_zone(wall: datetime, zone: ZoneInfo) -> datetime:
    # fold=0 is the first occurrence in a fall-back fold; a wall time inside a
    # spring-forward gap converts with the offset before the gap, which lands
    # after it: a date filter needs an instant, not a refusal.
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
