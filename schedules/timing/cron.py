"""Cron expressions in three dialects: parsing, matching and wall-clock search.

Everything here works on naive *wall-clock* labels (year, month, day, hour,
minute, second). Turning a label into an instant, and deciding what to do when
a label does not exist or exists twice, is the job of `schedules.timing.dst`.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from schedules.timing.cron_fields import (
    DAY_NAMES,
    MONTH_NAMES,
    DayOfMonthRule,
    DayOfWeekRule,
    FieldSpec,
    month_shape,
    parse_day_of_month,
    parse_day_of_week,
    parse_numeric_field,
)
from schedules.timing.errors import TimingError


class Dialect(StrEnum):
    UNIX = "unix"
    SPRING = "spring"
    QUARTZ = "quartz"


MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_FIELD_COUNTS = {5: Dialect.UNIX, 6: Dialect.SPRING, 7: Dialect.QUARTZ}
_DIALECT_FIELDS = {
    Dialect.UNIX: ("minute", "hour", "day-of-month", "month", "day-of-week"),
    Dialect.SPRING: (
        "second", "minute", "hour", "day-of-month", "month", "day-of-week",
    ),
    Dialect.QUARTZ: (
        "second", "minute", "hour", "day-of-month", "month", "day-of-week", "year",
    ),
}  # fmt: skip
_SPECS = {
    "second": FieldSpec("second", 0, 59),
    "minute": FieldSpec("minute", 0, 59),
    "hour": FieldSpec("hour", 0, 23),
    "day-of-month": FieldSpec("day-of-month", 1, 31),
    "month": FieldSpec("month", 1, 12, MONTH_NAMES),
    "year": FieldSpec("year", 1970, 2099),
}
_DOW_SPECS = {
    # 0 and 7 are both Sunday in Unix and Spring; `*` means 0-6.
    False: FieldSpec("day-of-week", 0, 7, DAY_NAMES, star_high=6),
    True: FieldSpec(
        "day-of-week", 1, 7, {name: day + 1 for name, day in DAY_NAMES.items()}
    ),
}
# The Gregorian calendar repeats every 400 years, so a label that matches at
# all matches within 400 years of any date; this bounds every search.
_CALENDAR_CYCLE_YEARS = 400
# 2001-2028 contains every (leap year?, weekday of 1 January) combination, which
# is all a month's matching days depend on, and no skipped century leap day.
_PROOF_YEARS = (2001, 2028)
_MONTH_CACHE_LIMIT = 1024


def _fail(message: str) -> TimingError:
    return TimingError("cron_expression", message)


@dataclass(frozen=True)
class CronExpression:
    """A parsed cron expression; build it with `CronExpression.parse`."""

    source: str
    dialect: Dialect
    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: tuple[int, ...]
    years: tuple[int, ...] | None
    day_of_month: DayOfMonthRule
    day_of_week: DayOfWeekRule
    # Vixie rule: when both day fields are restricted, a day matching either fires.
    days_either: bool
    hour_field: str
    _month_cache: dict[tuple[int, int], tuple[int, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    @classmethod
    def parse(cls, text: str, dialect: Dialect | None = None) -> CronExpression:
        """Parse and prove the expression fires at least once; TimingError if not."""
        if not isinstance(text, str):
            raise TypeError(f"cron expression must be a str, got {type(text).__name__}")
        source = " ".join(text.split())
        if not source:
            raise _fail("the cron expression is empty")
        if not text.isascii():
            # str.isdigit() and int() accept any script's digits (U+FF11) and
            # str.split() any script's spaces: each would pass as something
            # no other cron reads.
            odd = next(char for char in text if not char.isascii())
            raise _fail(
                f"cron expressions are plain ASCII; {odd!r} (U+{ord(odd):04X}) "
                "is not allowed"
            )
        resolved = None if dialect is None else Dialect(dialect)
        fields, resolved = _split_fields(source, resolved)
        named = dict(zip(_DIALECT_FIELDS[resolved], fields, strict=False))
        expression = _build(cls, source, resolved, named)
        expression._prove_fires()
        return expression

    @property
    def hour_is_wildcard_or_step(self) -> bool:
        """`*` or stepped hours mean "by elapsed time" for the default DST promise."""
        return self.hour_field.startswith("*") or "/" in self.hour_field

    def matches(self, wall: datetime) -> bool:
        """Whether a naive wall-clock time matches every field (seconds too)."""
        if wall.tzinfo is not None:
            raise TypeError("matches() takes a naive wall-clock datetime")
        return (
            (self.years is None or wall.year in self.years)
            and wall.second in self.seconds
            and wall.minute in self.minutes
            and wall.hour in self.hours
            and wall.month in self.months
            and wall.day in self.month_days(wall.year, wall.month)
        )

    def month_days(self, year: int, month: int) -> tuple[int, ...]:
        """Sorted days of this month on which the expression fires."""
        key = (year, month)
        cached = self._month_cache.get(key)
        if cached is None:
            if len(self._month_cache) >= _MONTH_CACHE_LIMIT:
                self._month_cache.clear()
            cached = self._month_cache[key] = self._compute_month_days(year, month)
        return cached

    def _compute_month_days(self, year: int, month: int) -> tuple[int, ...]:
        if month not in self.months:
            return ()
        first_weekday, length = month_shape(year, month)
        by_date = self.day_of_month.matching(first_weekday, length)
        by_weekday = self.day_of_week.matching(first_weekday, length)
        days = by_date | by_weekday if self.days_either else by_date & by_weekday
        return tuple(sorted(days))

    def walls_from(
        self, start: datetime, *, last_year: int | None = None
    ) -> Iterator[datetime]:
        """Matching wall-clock labels at or after the naive `start`, ascending."""
        # A fractional second cannot match; second 60 simply finds nothing.
        clock = (start.hour, start.minute, start.second + (start.microsecond > 0))
        first_day = start.date()
        for day in self._days_from(first_day, last_year):
            lower = clock if day == first_day else (0, 0, 0)
            for hour, minute, second in self._times_from(*lower):
                # A naive label on purpose: which instant it means is dst.py's call.
                yield datetime(day.year, day.month, day.day, hour, minute, second)  # noqa: DTZ001

    def _days_from(self, first: date, last_year: int | None) -> Iterator[date]:
        for year in self._years_from(first.year, last_year):
            month_floor = first.month if year == first.year else 1
            for month in self.months[bisect.bisect_left(self.months, month_floor) :]:
                floor = first.day if (year, month) == (first.year, first.month) else 1
                days = self.month_days(year, month)
                for day in days[bisect.bisect_left(days, floor) :]:
                    yield date(year, month, day)

    def _years_from(self, year: int, last_year: int | None) -> Iterator[int]:
        if last_year is None:
            last_year = min(year + _CALENDAR_CYCLE_YEARS, 9999)
        if self.years is None:
            yield from range(year, last_year + 1)
            return
        index = bisect.bisect_left(self.years, year)
        yield from (y for y in self.years[index:] if y <= last_year)

    def _times_from(
        self, hour: int, minute: int, second: int
    ) -> Iterator[tuple[int, int, int]]:
        for h in self.hours[bisect.bisect_left(self.hours, hour) :]:
            minute_floor = minute if h == hour else 0
            for m in self.minutes[bisect.bisect_left(self.minutes, minute_floor) :]:
                second_floor = second if (h, m) == (hour, minute) else 0
                for s in self.seconds[bisect.bisect_left(self.seconds, second_floor) :]:
                    yield h, m, s

    def _prove_fires(self) -> None:
        """Validation means "fires at least once at all", past years included."""
        if self.years is None:
            first, last = _PROOF_YEARS
        else:
            first, last = self.years[0], self.years[-1]
        if next(self._days_from(date(first, 1, 1), last), None) is None:
            raise _fail(f"this expression never fires ({self._never_reason()})")

    def _never_reason(self) -> str:
        dom = self.day_of_month
        if dom.is_plain and not self.days_either and dom.days and len(dom.days) <= 3:
            days = ", ".join(str(day) for day in sorted(dom.days))
            months = " or ".join(_month_name(month) for month in self.months)
            if len(self.months) <= 3:
                return f"{days} {months}"
        parts = "day-of-month, day-of-week, month and year"
        if self.years is None:
            parts = "day-of-month, day-of-week and month"
        return f"no date satisfies {parts} together"


def _month_name(month: int) -> str:
    return date(2001, month, 1).strftime("%B")


def _split_fields(source: str, dialect: Dialect | None) -> tuple[list[str], Dialect]:
    if source.startswith("@"):
        return _expand_macro(source, dialect)
    fields = source.split(" ")
    if dialect is None:
        if len(fields) not in _FIELD_COUNTS:
            raise _fail(
                "cron needs 5 fields (Unix), 6 (Spring, seconds first) or "
                f"7 (Quartz, seconds first, year last), got {len(fields)}"
            )
        return fields, _FIELD_COUNTS[len(fields)]
    # Quartz's year is optional, so Quartz accepts 6 or 7 fields.
    allowed = (6, 7) if dialect is Dialect.QUARTZ else (len(_DIALECT_FIELDS[dialect]),)
    if len(fields) not in allowed:
        wanted = " or ".join(str(count) for count in allowed)
        raise _fail(
            f"{dialect.name.title()} cron needs {wanted} fields, got {len(fields)}"
        )
    return fields, dialect


def _expand_macro(source: str, dialect: Dialect | None) -> tuple[list[str], Dialect]:
    expansion = MACROS.get(source.lower())
    if expansion is None:
        raise _fail(f"unknown macro {source!r}; use one of {', '.join(MACROS)}")
    if dialect is Dialect.QUARTZ:
        raise _fail("Quartz cron has no macros like @daily; write the fields out")
    if dialect is Dialect.SPRING:
        return ["0", *expansion.split(" ")], Dialect.SPRING
    return expansion.split(" "), Dialect.UNIX


def _check_question_marks(named: dict[str, str], dialect: Dialect) -> None:
    for name, text in named.items():
        if "?" not in text:
            continue
        if name not in ("day-of-month", "day-of-week"):
            raise _fail(f"{name} cannot be '?'; only day-of-month and day-of-week can")
        if dialect is Dialect.UNIX:
            raise _fail(f"{name} '?' is Spring/Quartz syntax; use * in Unix cron")
        if text != "?":
            raise _fail(f"{name} '?' must stand alone, got {text!r}")


def _is_star(text: str) -> bool:
    return text.startswith(("*", "?"))


def _check_quartz_days(named: dict[str, str]) -> None:
    # Quartz itself demands exactly one '?'. We only refuse the case where the
    # meaning is ambiguous (both restricted: AND or OR?); `*` beside a restriction,
    # or '?' in both, has one obvious meaning, so we accept it.
    dom, dow = named["day-of-month"], named["day-of-week"]
    if not _is_star(dom) and not _is_star(dow):
        raise _fail(
            f"Quartz cron needs '?' in day-of-month or day-of-week when the other is "
            f"set (got {dom!r} and {dow!r})"
        )


def _build(
    cls: type[CronExpression], source: str, dialect: Dialect, named: dict[str, str]
) -> CronExpression:
    _check_question_marks(named, dialect)
    if dialect is Dialect.QUARTZ:
        _check_quartz_days(named)
    year_text = named.get("year", "*")
    dom_text, dow_text = named["day-of-month"], named["day-of-week"]
    return cls(
        source=source,
        dialect=dialect,
        seconds=parse_numeric_field(named.get("second", "0"), _SPECS["second"]),
        minutes=parse_numeric_field(named["minute"], _SPECS["minute"]),
        hours=parse_numeric_field(named["hour"], _SPECS["hour"]),
        months=parse_numeric_field(named["month"], _SPECS["month"]),
        years=None
        if year_text == "*"
        else parse_numeric_field(year_text, _SPECS["year"]),
        day_of_month=parse_day_of_month(dom_text, _SPECS["day-of-month"]),
        day_of_week=parse_day_of_week(
            dow_text,
            _DOW_SPECS[dialect is Dialect.QUARTZ],
            quartz=dialect is Dialect.QUARTZ,
        ),
        days_either=dialect is Dialect.UNIX
        and not _is_star(dom_text)
        and not _is_star(dow_text),
        hour_field=named["hour"],
    )
