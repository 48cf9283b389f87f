"""Property tests: random expressions from a field grammar, checked by brute force.

Each generated expression carries its own meaning (value sets and day
predicates written here with plain date arithmetic), so the checks do not lean
on the evaluator's own parsing: the next fire is strictly after the instant,
matches, and no matching second (or minute, for Unix) lies in between.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from hypothesis import HealthCheck, event, given, reject, settings
from hypothesis import strategies as st

from schedules.timing import (
    CronExpression,
    CronTrigger,
    Dialect,
    TimingError,
    load_zone,
    next_fire,
)

DayTest = Callable[[date], bool]
PROPERTY_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@dataclass(frozen=True)
class Generated:
    text: str
    dialect: Dialect
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    day_of_month: DayTest
    day_of_week: DayTest
    either_day: bool

    def day_matches(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        if self.either_day:
            return self.day_of_month(day) or self.day_of_week(day)
        return self.day_of_month(day) and self.day_of_week(day)

    def matches(self, wall: datetime) -> bool:
        return (
            wall.second in self.seconds
            and wall.minute in self.minutes
            and wall.hour in self.hours
            and self.day_matches(wall.date())
        )


@st.composite
def numeric_item(draw: st.DrawFn, low: int, high: int) -> tuple[str, set[int]]:
    kind = draw(st.sampled_from(["value", "range", "star_step", "range_step", "from"]))
    start = draw(st.integers(low, high))
    step = draw(st.integers(1, max(1, (high - low) // 2 + 1)))
    if kind == "value":
        return str(start), {start}
    if kind == "star_step":
        return f"*/{step}", set(range(low, high + 1, step))
    if kind == "from":
        return f"{start}/{step}", set(range(start, high + 1, step))
    end = draw(st.integers(start, high))
    if kind == "range":
        return f"{start}-{end}", set(range(start, end + 1))
    return f"{start}-{end}/{step}", set(range(start, end + 1, step))


@st.composite
def numeric_field(draw: st.DrawFn, low: int, high: int) -> tuple[str, frozenset[int]]:
    if draw(st.booleans()):
        return "*", frozenset(range(low, high + 1))
    items = draw(st.lists(numeric_item(low, high), min_size=1, max_size=3))
    values: set[int] = set()
    for _, item_values in items:
        values |= item_values
    return ",".join(text for text, _ in items), frozenset(values)


def _last_day(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def _sunday_based(day: date) -> int:
    return (day.weekday() + 1) % 7


def _nearest_weekday(year: int, month: int, target: int) -> date | None:
    last = calendar.monthrange(year, month)[1]
    if target > last:
        return None
    wanted = date(year, month, target)
    if wanted.weekday() == calendar.SATURDAY:
        return wanted - timedelta(days=1) if target > 1 else wanted + timedelta(days=2)
    if wanted.weekday() == calendar.SUNDAY:
        return (
            wanted + timedelta(days=1) if target < last else wanted - timedelta(days=2)
        )
    return wanted


def _last_weekday(day: date) -> date:
    candidate = date(day.year, day.month, _last_day(day))
    while candidate.weekday() >= calendar.SATURDAY:
        candidate -= timedelta(days=1)
    return candidate


@st.composite
def day_of_month(draw: st.DrawFn) -> tuple[str, DayTest]:
    kind = draw(st.sampled_from(["numeric", "numeric", "L", "L-n", "W", "LW"]))
    if kind == "L":
        return "L", lambda day: day.day == _last_day(day)
    if kind == "L-n":
        back = draw(st.integers(1, 5))
        return f"L-{back}", lambda day: day.day == _last_day(day) - back
    if kind == "W":
        target = draw(st.integers(1, 31))
        return (
            f"{target}W",
            lambda day: day == _nearest_weekday(day.year, day.month, target),
        )
    if kind == "LW":
        return "LW", lambda day: day == _last_weekday(day)
    text, values = draw(numeric_field(1, 31))
    return text, lambda day: day.day in values


@st.composite
def day_of_week(draw: st.DrawFn) -> tuple[str, DayTest]:
    # `*` is drawn often so the day-of-month specials get tested on their own.
    kind = draw(st.sampled_from(["*", "*", "numeric", "last", "nth"]))
    weekday = draw(st.integers(0, 6))
    if kind == "*":
        return "*", lambda day: True
    if kind == "last":
        return (
            f"{weekday}L",
            lambda day: _sunday_based(day) == weekday and day.day + 7 > _last_day(day),
        )
    if kind == "nth":
        week = draw(st.integers(1, 5))
        return (
            f"{weekday}#{week}",
            lambda day: (
                _sunday_based(day) == weekday and (day.day - 1) // 7 + 1 == week
            ),
        )
    text, values = draw(numeric_field(0, 7))
    weekdays = {value % 7 for value in values}
    return text, lambda day: _sunday_based(day) in weekdays


@st.composite
def expressions(draw: st.DrawFn) -> Generated:
    dialect = draw(st.sampled_from([Dialect.UNIX, Dialect.SPRING]))
    seconds_text, seconds = draw(numeric_field(0, 59))
    minutes_text, minutes = draw(numeric_field(0, 59))
    hours_text, hours = draw(numeric_field(0, 23))
    dom_text, dom_test = draw(day_of_month())
    months_text, months = draw(numeric_field(1, 12))
    dow_text, dow_test = draw(day_of_week())
    fields = [minutes_text, hours_text, dom_text, months_text, dow_text]
    if dialect is Dialect.SPRING:
        fields.insert(0, seconds_text)
    else:
        seconds = frozenset({0})
    either = dialect is Dialect.UNIX and not (
        dom_text.startswith("*") or dow_text.startswith("*")
    )
    return Generated(
        " ".join(fields), dialect, seconds, minutes, hours, months,
        dom_test, dow_test, either,
    )  # fmt: skip


instants = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1))


def _parse_or_reject(generated: Generated) -> CronExpression:
    try:
        return CronExpression.parse(generated.text, generated.dialect)
    except TimingError:
        reject()  # e.g. "31 in February only": the grammar allows never-firing text


def _first_match_between(
    generated: Generated, low: datetime, high: datetime
) -> datetime | None:
    """Brute force over walls in (low, high): whole days first, then every tick."""
    tick = timedelta(seconds=1 if generated.dialect is Dialect.SPRING else 60)
    day = low.date()
    while day <= high.date():
        if generated.day_matches(day):
            found = _scan_day(generated, day, low, high, tick)
            if found is not None:
                return found
        day += timedelta(days=1)
    return None


def _scan_day(
    generated: Generated, day: date, low: datetime, high: datetime, tick: timedelta
) -> datetime | None:
    moment = datetime(day.year, day.month, day.day)
    for hour in range(24):
        if hour not in generated.hours:
            continue
        start = moment.replace(hour=hour)
        wall = start
        while wall < start + timedelta(hours=1):
            if low < wall < high and generated.matches(wall):
                return wall
            wall += tick
    return None


@PROPERTY_SETTINGS
@given(generated=expressions(), naive_after=instants)
def test_next_fire_in_utc_is_the_first_matching_instant_after(
    generated: Generated, naive_after: datetime
) -> None:
    trigger = CronTrigger(_parse_or_reject(generated), load_zone("UTC"))
    after = naive_after.replace(tzinfo=UTC)
    fire = next_fire(trigger, after=after)
    assert fire is not None
    assert fire.at > after
    wall = fire.at.replace(tzinfo=None)
    assert generated.matches(wall)
    assert trigger.expression.matches(wall)
    assert _first_match_between(generated, naive_after, wall) is None


@PROPERTY_SETTINGS
@given(generated=expressions(), naive_after=instants)
def test_next_fire_in_berlin_is_the_first_matching_wall_time_away_from_dst_nights(
    generated: Generated, naive_after: datetime
) -> None:
    berlin = load_zone("Europe/Berlin")
    trigger = CronTrigger(_parse_or_reject(generated), berlin)
    after = naive_after.replace(tzinfo=UTC)
    fire = next_fire(trigger, after=after)
    assert fire is not None
    assert fire.at > after
    local_after, local_fire = after.astimezone(berlin), fire.at.astimezone(berlin)
    # Offsets equal at both ends of a window shorter than Berlin's five months
    # between transitions: no DST night inside, so wall order is time order.
    if local_after.utcoffset() != local_fire.utcoffset() or (
        fire.at - after > timedelta(days=140)
    ):
        event("window crosses a DST night: order checked only")
        return
    assert fire.dst is None
    wall_after = local_after.replace(tzinfo=None)
    wall = local_fire.replace(tzinfo=None)
    assert generated.matches(wall)
    assert _first_match_between(generated, wall_after, wall) is None
