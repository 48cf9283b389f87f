"""Triggers and the next-fire computation for each of them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from schedules.timing.cron import CronExpression, Dialect
from schedules.timing.dst import DstFold, DstGap, Fire, resolve, search_floor
from schedules.timing.errors import TimingError
from schedules.timing.zones import load_zone, require_aware

# Bounds are inclusive; "strictly after the instant one tick earlier" says so.
_TICK = timedelta(microseconds=1)
# Far beyond any real schedule, and far enough from datetime's limits that
# start + k * interval arithmetic can never overflow.
MAX_INTERVAL = timedelta(days=36525)


@dataclass(frozen=True)
class OneTimeTrigger:
    run_at: datetime

    def __post_init__(self) -> None:
        require_aware(self.run_at, "run_at")


@dataclass(frozen=True)
class IntervalTrigger:
    """Fires at start + k * every (elapsed time, so DST never moves it)."""

    start: datetime
    every: timedelta
    repeats: int | None = None

    def __post_init__(self) -> None:
        require_aware(self.start, "start")
        if self.every <= timedelta(0):
            raise TimingError(
                "interval", f"the interval must be positive, got {self.every}"
            )
        if self.repeats is not None and self.repeats < 1:
            raise TimingError(
                "repeats", f"repeats must be at least 1, got {self.repeats}"
            )


@dataclass(frozen=True)
class CronTrigger:
    """A cron expression evaluated on the wall clock of `zone`.

    `None` policies mean the default promise: a fixed-hour job (02:30) shifts out
    of a gap and fires once in a fold; a job whose hour is `*` or stepped keeps
    real elapsed time, so gap labels are skipped and fold labels fire twice.
    """

    expression: CronExpression
    zone: ZoneInfo
    dst_gap: DstGap | None = None
    dst_fold: DstFold | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.expression, CronExpression):
            raise TypeError(
                "expression must be a CronExpression; use CronExpression.parse"
            )
        if not isinstance(self.zone, ZoneInfo):
            raise TypeError("zone must be a ZoneInfo; use load_zone")

    @property
    def gap_policy(self) -> DstGap:
        if self.dst_gap is not None:
            return self.dst_gap
        return DstGap.SKIP if self.expression.hour_is_wildcard_or_step else DstGap.SHIFT

    @property
    def fold_policy(self) -> DstFold:
        if self.dst_fold is not None:
            return self.dst_fold
        return (
            DstFold.BOTH if self.expression.hour_is_wildcard_or_step else DstFold.FIRST
        )


Trigger = OneTimeTrigger | IntervalTrigger | CronTrigger


def cron_trigger(
    expression: str,
    time_zone: str,
    *,
    dialect: Dialect | None = None,
    dst_gap: DstGap | None = None,
    dst_fold: DstFold | None = None,
) -> CronTrigger:
    """Parse text and zone name into a CronTrigger (TimingError on bad input)."""
    parsed = CronExpression.parse(expression, dialect)
    return CronTrigger(parsed, load_zone(time_zone), dst_gap, dst_fold)


def next_fire(
    trigger: Trigger,
    *,
    after: datetime,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Fire | None:
    """The first fire strictly after `after`, within [start, end]; None if finished."""
    floor = require_aware(after, "after")
    if start is not None:
        floor = max(floor, require_aware(start, "start") - _TICK)
    last = None if end is None else require_aware(end, "end")
    fire = _next_unbounded(trigger, floor)
    if fire is None or (last is not None and fire.at > last):
        return None
    return fire


def next_fires(
    trigger: Trigger,
    *,
    after: datetime,
    count: int,
    start: datetime | None = None,
    end: datetime | None = None,
    until: datetime | None = None,
) -> list[Fire]:
    """Up to `count` consecutive fires after `after`; `until` is one more end bound."""
    if count < 0:
        raise ValueError(f"count must not be negative, got {count}")
    bounds = [bound for bound in (end, until) if bound is not None]
    last = (
        min(bounds, key=lambda bound: require_aware(bound, "end")) if bounds else None
    )
    fires: list[Fire] = []
    cursor = after
    while len(fires) < count:
        fire = next_fire(trigger, after=cursor, start=start, end=last)
        if fire is None:
            break
        fires.append(fire)
        cursor = fire.at
    return fires


def _next_unbounded(trigger: Trigger, after: datetime) -> Fire | None:
    if isinstance(trigger, CronTrigger):
        return _next_cron(trigger, after)
    if isinstance(trigger, IntervalTrigger):
        return _next_interval(trigger, after)
    if isinstance(trigger, OneTimeTrigger):
        at = trigger.run_at.astimezone(UTC)
        return Fire(at) if at > after else None
    raise TypeError(f"not a trigger: {trigger!r}")


def _next_interval(trigger: IntervalTrigger, after: datetime) -> Fire | None:
    # Whole multiples from the origin, in UTC: no accumulated drift, no DST.
    origin = trigger.start.astimezone(UTC)
    index = 0 if after < origin else (after - origin) // trigger.every + 1
    if trigger.repeats is not None and index >= trigger.repeats:
        return None
    return Fire(origin + index * trigger.every)


def _next_cron(trigger: CronTrigger, after: datetime) -> Fire | None:
    gap, fold = trigger.gap_policy, trigger.fold_policy
    best: Fire | None = None
    for wall in trigger.expression.walls_from(search_floor(after, trigger.zone)):
        resolution = resolve(wall, trigger.zone, gap, fold)
        for fire in resolution.fires:
            if fire.at > after and (best is None or fire.at < best.at):
                best = fire
        # Later labels never resolve earlier than this one's earliest instant.
        if best is not None and best.at <= resolution.earliest:
            break
    return best


def fires_in_interval_count(trigger: IntervalTrigger, *, upto: datetime) -> int:
    """How many fires happened at or before `upto` (for repeats bookkeeping)."""
    origin = trigger.start.astimezone(UTC)
    limit = require_aware(upto, "upto")
    if limit < origin:
        return 0
    count = (limit - origin) // trigger.every + 1
    return count if trigger.repeats is None else min(count, trigger.repeats)


def interval_from_parts(
    *,
    weeks: float = 0,
    days: float = 0,
    hours: float = 0,
    minutes: float = 0,
    seconds: float = 0,
) -> timedelta:
    """Build an interval from form-style parts; TimingError("interval") unless > 0."""
    parts = {"weeks": weeks, "days": days, "hours": hours, "minutes": minutes}
    parts["seconds"] = seconds
    negative = [f"{name}={value}" for name, value in parts.items() if value < 0]
    if negative:
        raise TimingError(
            "interval", f"interval parts cannot be negative ({', '.join(negative)})"
        )
    try:
        every = timedelta(**parts)
    except OverflowError:
        every = MAX_INTERVAL + _TICK
    if every > MAX_INTERVAL:
        raise TimingError(
            "interval", "an interval can be at most 100 years (36525 days)"
        )
    if every <= timedelta(0):
        raise TimingError(
            "interval",
            "an interval needs at least one positive part: weeks, days, hours, "
            "minutes or seconds",
        )
    return every
