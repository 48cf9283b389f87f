"""Parsing of single cron fields into value sets and day rules.

Day-of-week values are normalised to 0 = Sunday ... 6 = Saturday whatever the
dialect wrote, so the evaluator never has to know about numbering schemes.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass, field

from schedules.timing.errors import TimingError

MONTH_NAMES: Mapping[str, int] = {
    name.upper(): number for number, name in enumerate(calendar.month_abbr) if name
}
DAY_NAMES: Mapping[str, int] = {
    "SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6,
}  # fmt: skip
SATURDAY = 6
SUNDAY = 0


@dataclass(frozen=True)
class FieldSpec:
    """What one cron field accepts: its name in messages, its bounds and names."""

    name: str
    low: int
    high: int
    names: Mapping[str, int] = field(default_factory=dict)
    # Where `*` stops; day-of-week `*` covers 0-6 even though 7 is also Sunday.
    star_high: int | None = None


def _fail(message: str) -> TimingError:
    return TimingError("cron_expression", message)


def parse_value(token: str, spec: FieldSpec) -> int:
    """One number or name, checked against the field's bounds."""
    upper = token.upper()
    if upper in spec.names:
        return spec.names[upper]
    if not token.isdigit():
        hint = f" or a name ({_names_hint(spec)})" if spec.names else ""
        raise _fail(f"{spec.name} value {token!r} is not a number{hint}")
    value = int(token)
    if not spec.low <= value <= spec.high:
        raise _fail(f"{spec.name} {value} is outside {spec.low}-{spec.high}")
    return value


def _names_hint(spec: FieldSpec) -> str:
    names = list(spec.names)
    return f"{names[0]}-{names[-1]}"


def _parse_step(token: str, spec: FieldSpec) -> int:
    if not token.isdigit() or int(token) < 1:
        raise _fail(f"{spec.name} step {token!r} must be a whole number of at least 1")
    return int(token)


def _parse_range(base: str, spec: FieldSpec) -> tuple[int, int]:
    start_text, _, end_text = base.partition("-")
    start, end = parse_value(start_text, spec), parse_value(end_text, spec)
    # "FRI-SUN" reads naturally; where 7 is a valid Sunday, let a range end on it.
    if end == 0 and start > 0 and spec.high == 7:
        end = 7
    if start > end:
        raise _fail(
            f"{spec.name} range {base} runs backwards; "
            f"split it, e.g. {start_text}-{spec.high},{spec.low}-{end_text}"
        )
    return start, end


def parse_item(item: str, spec: FieldSpec) -> set[int]:
    """`*`, `a`, `a-b`, each with an optional `/step`; `a/step` runs to the maximum."""
    base, slash, step_text = item.partition("/")
    step = _parse_step(step_text, spec) if slash else 1
    if base in ("*", "?"):
        start, end = spec.low, spec.star_high or spec.high
    elif "-" in base:
        start, end = _parse_range(base, spec)
    elif not base:
        raise _fail(f"{spec.name} item {item!r} has nothing before '/'")
    else:
        start = parse_value(base, spec)
        end = spec.high if slash else start
    return set(range(start, end + 1, step))


def split_items(text: str, spec: FieldSpec) -> list[str]:
    items = text.split(",")
    if any(not item for item in items):
        raise _fail(f"{spec.name} field {text!r} has an empty list item")
    return items


def parse_numeric_field(text: str, spec: FieldSpec) -> tuple[int, ...]:
    """A whole field without special characters, as sorted values."""
    values: set[int] = set()
    for item in split_items(text, spec):
        values |= parse_item(item, spec)
    return tuple(sorted(values))


def month_shape(year: int, month: int) -> tuple[int, int]:
    """(weekday of the 1st with 0 = Sunday, number of days)."""
    monday_based, length = calendar.monthrange(year, month)
    return (monday_based + 1) % 7, length


def _weekday(day: int, first_weekday: int) -> int:
    return (first_weekday + day - 1) % 7


def nearest_weekday(day: int, first_weekday: int, length: int) -> int | None:
    """Quartz `W`: the Monday-Friday closest to `day`, never leaving the month."""
    if day > length:
        return None
    weekday = _weekday(day, first_weekday)
    if weekday == SATURDAY:
        return day - 1 if day > 1 else day + 2
    if weekday == SUNDAY:
        return day + 1 if day < length else day - 2
    return day


def last_weekday(first_weekday: int, length: int) -> int:
    weekday = _weekday(length, first_weekday)
    return {SATURDAY: length - 1, SUNDAY: length - 2}.get(weekday, length)


@dataclass(frozen=True)
class DayOfMonthRule:
    """Day-of-month: plain days plus `L`, `L-n`, `nW` and `LW`."""

    days: frozenset[int] = frozenset()
    before_last: frozenset[int] = frozenset()  # L -> 0, L-2 -> 2
    nearest_weekday: frozenset[int] = frozenset()  # 15W -> 15
    last_weekday: bool = False

    def matching(self, first_weekday: int, length: int) -> set[int]:
        found = {day for day in self.days if day <= length}
        found |= {length - back for back in self.before_last if length - back >= 1}
        for day in self.nearest_weekday:
            nearest = nearest_weekday(day, first_weekday, length)
            if nearest is not None:
                found.add(nearest)
        if self.last_weekday:
            found.add(last_weekday(first_weekday, length))
        return found

    @property
    def is_plain(self) -> bool:
        return not (self.before_last or self.nearest_weekday or self.last_weekday)


@dataclass(frozen=True)
class DayOfWeekRule:
    """Day-of-week (0 = Sunday): plain weekdays plus `5L` and `5#3`."""

    weekdays: frozenset[int] = frozenset()
    last: frozenset[int] = frozenset()  # 5L -> 5
    nth: frozenset[tuple[int, int]] = frozenset()  # 5#3 -> (5, 3)

    def matching(self, first_weekday: int, length: int) -> set[int]:
        found: set[int] = set()
        for weekday in self.weekdays:
            found.update(range(_first(weekday, first_weekday), length + 1, 7))
        for weekday in self.last:
            first = _first(weekday, first_weekday)
            found.add(first + 7 * ((length - first) // 7))
        for weekday, nth in self.nth:
            day = _first(weekday, first_weekday) + 7 * (nth - 1)
            if day <= length:
                found.add(day)
        return found


def _first(weekday: int, first_weekday: int) -> int:
    """Day of the month on which `weekday` first occurs."""
    return 1 + (weekday - first_weekday) % 7


def parse_day_of_month(text: str, spec: FieldSpec) -> DayOfMonthRule:
    days: set[int] = set()
    before_last: set[int] = set()
    nearest: set[int] = set()
    last_wd = False
    for item in split_items(text, spec):
        upper = item.upper()
        if upper == "LW":
            last_wd = True
        elif upper == "L" or upper.startswith("L-"):
            before_last.add(_parse_before_last(upper))
        elif upper.endswith("W"):
            nearest.add(_parse_nearest(upper[:-1], spec))
        else:
            days |= parse_item(item, spec)
    return DayOfMonthRule(
        frozenset(days), frozenset(before_last), frozenset(nearest), last_wd
    )


def _parse_before_last(upper: str) -> int:
    back = upper[2:] if upper.startswith("L-") else "0"
    if not back.isdigit() or not 0 <= int(back) <= 30:
        raise _fail(f"day-of-month {upper} needs L-n with n from 0 to 30")
    return int(back)


def _parse_nearest(token: str, spec: FieldSpec) -> int:
    if not token.isdigit():
        raise _fail(
            f"day-of-month {token}W: W takes a single day, like 15W (nearest weekday)"
        )
    return parse_value(token, spec)


def parse_day_of_week(text: str, spec: FieldSpec, *, quartz: bool) -> DayOfWeekRule:
    """Parse in the dialect's numbering, store as 0 = Sunday."""
    plain: set[int] = set()
    last: set[int] = set()
    nth: set[tuple[int, int]] = set()
    for item in split_items(text, spec):
        upper = item.upper()
        if upper == "L":
            if not quartz:
                raise _fail(
                    "day-of-week L alone is Quartz-only (Saturday); "
                    "write 5L for the last Friday of the month"
                )
            plain.add(spec.high)
        elif upper.endswith("L"):
            last.add(parse_value(upper[:-1], spec))
        elif "#" in upper:
            nth.add(_parse_nth(upper, spec))
        else:
            plain |= parse_item(item, spec)

    def normal(value: int) -> int:
        # Quartz counts 1 = Sunday; Unix and Spring 0 (or 7) = Sunday.
        return value - 1 if quartz else value % 7

    return DayOfWeekRule(
        weekdays=frozenset(map(normal, plain)),
        last=frozenset(map(normal, last)),
        nth=frozenset((normal(day), week) for day, week in nth),
    )


def _parse_nth(upper: str, spec: FieldSpec) -> tuple[int, int]:
    day_text, _, nth_text = upper.partition("#")
    day = parse_value(day_text, spec)
    if not nth_text.isdigit() or not 1 <= int(nth_text) <= 5:
        raise _fail(f"day-of-week {upper}: week number {nth_text} is outside 1-5")
    return day, int(nth_text)
