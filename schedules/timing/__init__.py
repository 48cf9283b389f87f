"""Pure time math for schedules: cron dialects, intervals, DST rules, next fire.

No Django in here (stdlib, zoneinfo and cron-descriptor only), so every rule is
testable without a database.

Why the cron evaluator is hand-written rather than croniter or cronsim: measured
on our machine, croniter rejects `LW`, `5L`, `L-2` and `L` in day-of-week, and
fires a daily 02:30 Europe/Berlin job twice on the fall-back night; cronsim
rejects `?`, `15W`, macros and `L-2`. We need the Unix, Spring and Quartz
dialects and our own DST promise (see `schedules.timing.dst` and
`CronTrigger`), so we evaluate cron ourselves; the two libraries serve only as
test oracles.

Decisions worth knowing:
* Dialect by field count: 5 Unix, 6 Spring (seconds first), 7 Quartz (seconds
  first, year last); macros are Unix (Spring too if asked; Quartz has none).
* Unix follows Vixie cron: when day-of-month and day-of-week are both
  restricted (neither starts with `*`), a day matching either fires; otherwise
  both must match. Spring and Quartz always require both (`?` = no restriction).
* Quartz demands exactly one `?` in the day fields. We are lenient where the
  meaning is unambiguous (`*` beside a restriction, or `?` in both) and refuse
  only both-restricted, where AND versus OR would be a guess.
* Validation proves an expression fires at least once at all; a Quartz year
  list wholly in the past is valid and simply has no next fire (None).
* Backward ranges (`22-2`) are refused with a hint to split them.
"""

from __future__ import annotations

from schedules.timing.cron import MACROS, CronExpression, Dialect
from schedules.timing.descriptions import describe, describe_cron, describe_interval
from schedules.timing.dst import DstFold, DstGap, DstNote, Fire
from schedules.timing.errors import TimingError
from schedules.timing.triggers import (
    CronTrigger,
    IntervalTrigger,
    OneTimeTrigger,
    Trigger,
    cron_trigger,
    fires_in_interval_count,
    interval_from_parts,
    next_fire,
    next_fires,
)
from schedules.timing.zones import load_zone

__all__ = [
    "MACROS",
    "CronExpression",
    "CronTrigger",
    "Dialect",
    "DstFold",
    "DstGap",
    "DstNote",
    "Fire",
    "IntervalTrigger",
    "OneTimeTrigger",
    "TimingError",
    "Trigger",
    "cron_trigger",
    "describe",
    "describe_cron",
    "describe_interval",
    "fires_in_interval_count",
    "interval_from_parts",
    "load_zone",
    "next_fire",
    "next_fires",
]
