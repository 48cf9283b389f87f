"""Human-readable summaries of triggers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from cron_descriptor import ExpressionDescriptor, Options

from schedules.timing.cron import MACROS, CronExpression, Dialect
from schedules.timing.triggers import (
    CronTrigger,
    IntervalTrigger,
    OneTimeTrigger,
    Trigger,
)

_UNITS = (
    ("week", timedelta(weeks=1)),
    ("day", timedelta(days=1)),
    ("hour", timedelta(hours=1)),
    ("minute", timedelta(minutes=1)),
    ("second", timedelta(seconds=1)),
)


def describe(trigger: Trigger) -> str:
    """One English sentence for a trigger; never raises for a valid trigger."""
    if isinstance(trigger, CronTrigger):
        return f"{describe_cron(trigger.expression)} ({trigger.zone.key})"
    if isinstance(trigger, IntervalTrigger):
        return describe_interval(trigger.every, trigger.repeats)
    if isinstance(trigger, OneTimeTrigger):
        return f"once at {_format_instant(trigger.run_at)}"
    raise TypeError(f"not a trigger: {trigger!r}")


def describe_cron(expression: CronExpression) -> str:
    """cron-descriptor's sentence, or the source text where it has none."""
    options = Options()
    options.use_24hour_time_format = True
    # cron-descriptor numbers weekdays from 0 = Sunday unless told otherwise;
    # Quartz counts from 1 = Sunday.
    options.day_of_week_start_index_zero = expression.dialect is not Dialect.QUARTZ
    options.verbose = False
    try:
        fields = _descriptor_fields(expression)
        if expression.days_either:
            return _describe_either_day(fields, options)
        return _run_descriptor(fields, options)
    # A third-party describer must not turn a valid schedule into a 500; its
    # failure modes are not documented, so any exception falls back to the source.
    except Exception:
        return expression.source


def _descriptor_fields(expression: CronExpression) -> list[str]:
    source = expression.source
    if source.startswith("@"):  # the descriptor knows no macros
        source = MACROS[source.lower()]
        source = f"0 {source}" if expression.dialect is Dialect.SPRING else source
    fields = source.split(" ")
    if expression.dialect is Dialect.QUARTZ and len(fields) == 6:
        fields.append("*")  # the descriptor reads a 6-field text as seconds-first too
    return fields


def _run_descriptor(fields: list[str], options: Options) -> str:
    return ExpressionDescriptor(" ".join(fields), options).get_description()


def _describe_either_day(fields: list[str], options: Options) -> str:
    # The descriptor always reads the two day fields as "and"; Vixie cron (Unix,
    # both restricted) means "or". Find the weekday phrase and say "or" before it.
    dom = len(fields) - 3
    full = _run_descriptor(fields, options)
    clock = _run_descriptor([*fields[:dom], "*", fields[dom + 1], "*"], options)
    by_weekday = _run_descriptor([*fields[:dom], "*", *fields[dom + 1 :]], options)
    known = set(clock.split(", "))
    phrases = [part for part in by_weekday.split(", ") if part not in known]
    if len(phrases) != 1 or f", {phrases[0]}" not in full:
        return f"{full} (day-of-month or day-of-week)"
    phrase = phrases[0]
    return full.replace(f", {phrase}", f", or {phrase.removeprefix('only ')}", 1)


def describe_interval(every: timedelta, repeats: int | None = None) -> str:
    """ "every 2 hours 30 minutes, 10 times", "every week", "every 10 seconds"."""
    parts: list[str] = []
    rest = every
    for unit, size in _UNITS:
        amount, rest = divmod(rest, size)
        if amount:
            parts.append(f"{amount} {unit}{'s' if amount != 1 else ''}")
    if rest:
        parts.append(f"{rest.microseconds / 1_000_000:g} seconds")
    text = "every " + " ".join(parts)
    if len(parts) == 1 and parts[0].startswith("1 "):
        text = "every " + parts[0][2:]
    if repeats is None:
        return text
    return f"{text}, {'once' if repeats == 1 else f'{repeats} times'}"


def _format_instant(value: datetime) -> str:
    pattern = "%Y-%m-%d %H:%M" + (":%S" if value.second or value.microsecond else "")
    return f"{value.strftime(pattern)} ({_zone_name(value.tzinfo)})"


def _zone_name(zone: tzinfo | None) -> str:
    if isinstance(zone, ZoneInfo):
        return zone.key
    if zone is UTC:
        return "UTC"
    return str(zone)
