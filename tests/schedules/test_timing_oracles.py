"""Differential tests: our evaluator against croniter and cronsim.

The oracles are only oracles (we never copy their code); each comparison runs on
the subset of syntax the oracle accepts and on windows that do not cross a DST
night, because there the products disagree on purpose:

* DST nights: croniter fires a daily 02:30 Berlin job twice on the fall-back
  night; our promise (tests/schedules/test_timing_dst.py) fires it once.
* Unix day fields: we follow Vixie cron, where a field starting with `*` (even
  `*/2`) counts as unrestricted, so `0 0 */2 * FRI` means odd days that are
  Fridays. cronsim agrees; croniter ORs them, so croniter comparisons keep a
  stepped `*` out of the day fields.
* One-value ranges with a step or name: see `_numeric`.
* croniter cannot combine `5#2` with a day-of-month (it gives up), rejects
  `5L`, `LW` and `L-n`; cronsim rejects `?`, `15W`, `L-n` and macros. Those
  cases are covered by our own tests instead.
* Spring is compared with croniter's `second_at_beginning=True`; Spring ANDs
  the day fields while croniter ORs them, so one of the two stays `*` there.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from croniter import croniter
from cronsim import CronSim

from schedules.timing import (
    CronExpression,
    CronTrigger,
    Dialect,
    Fire,
    TimingError,
    load_zone,
    next_fires,
)

FIRES_PER_START = 3
EXPRESSIONS = 250
MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV"]
DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]


def _numeric(rng: random.Random, low: int, high: int, names: list[str] | None) -> str:
    def value(lo: int = low, hi: int = high) -> str:
        number = rng.randint(lo, hi)
        if names and rng.random() < 0.3 and number - low < len(names):
            return names[number - low]
        return str(number)

    kind = rng.choice(["*", "*", "value", "range", "star_step", "range_step", "list"])
    if kind == "*":
        return "*"
    if kind == "value":
        return value()
    if kind == "star_step":
        return f"*/{rng.randint(1, max(1, (high - low) // 2))}"
    # A one-value range ("6-6", "57-57/2") is left out: croniter reads "6-6"
    # as every day and "57-57/2" as 2,4,6..., cronsim reads "57-57/2" as
    # "57/2". We read both as the single value (tests/schedules/test_timing_cron.py).
    start = rng.randint(low, high - 1)
    end = rng.randint(start + 1, high)
    if kind == "range":
        return f"{value(start, start)}-{value(end, end)}"
    if kind == "range_step":
        return f"{start}-{end}/{rng.randint(1, 5)}"
    return ",".join(sorted({value() for _ in range(rng.randint(2, 4))}))


def _unix_fields(rng: random.Random) -> list[str]:
    return [
        _numeric(rng, 0, 59, None),
        _numeric(rng, 0, 23, None),
        _numeric(rng, 1, 31, None),
        _numeric(rng, 1, 12, MONTHS),
        _numeric(rng, 0, 6, DAYS),
    ]


def _cronsim_expression(rng: random.Random) -> str:
    fields = _unix_fields(rng)
    special = rng.random()
    if special < 0.1:
        fields[2] = rng.choice(["L", "LW"])
    elif special < 0.2:
        fields[4] = rng.choice([f"{rng.randint(0, 6)}L", f"{rng.randint(0, 6)}#2"])
    return " ".join(fields)


def _croniter_expression(rng: random.Random) -> str:
    fields = _unix_fields(rng)
    # Vixie's "starts with *" rule is where croniter differs (module docstring).
    for index in (2, 4):
        if fields[index].startswith("*/"):
            fields[index] = "*"
    if rng.random() < 0.1:
        fields[2] = rng.choice(["L", "15W", "1W"])
        fields[4] = "*"
    return " ".join(fields)


def _spring_expression(rng: random.Random) -> str:
    fields = [_numeric(rng, 0, 59, None), *_unix_fields(rng)]
    fields[rng.choice([3, 5])] = "*"  # AND versus OR (module docstring)
    return " ".join(fields)


def _starts(rng: random.Random, zone_name: str) -> list[datetime]:
    zone = load_zone(zone_name)
    return [
        datetime(2026, rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23),
                 rng.randint(0, 59), rng.randint(0, 59), tzinfo=zone)
        for _ in range(2)
    ]  # fmt: skip


def _crosses_dst(first: datetime, last: datetime) -> bool:
    # Berlin's transitions are five months or more apart, so equal offsets at
    # both ends of a shorter window mean no transition inside it.
    return first.utcoffset() != last.utcoffset() or last - first > timedelta(days=140)


def _ours(text: str, dialect: Dialect, start: datetime) -> list[Fire]:
    trigger = CronTrigger(
        CronExpression.parse(text, dialect), load_zone(str(start.tzinfo))
    )
    return next_fires(trigger, after=start, count=FIRES_PER_START)


def _fires_at_all(text: str, dialect: Dialect) -> bool:
    try:
        CronExpression.parse(text, dialect)
    except TimingError:  # e.g. "31 FEB" from the generator: nothing to compare
        return False
    return True


def _mismatches(
    make: Callable[[random.Random], str],
    oracle: Callable[[str, datetime], list[datetime]],
    zone_name: str,
    dialect: Dialect,
    seed: int,
) -> tuple[list[str], int]:
    rng = random.Random(seed)
    problems: list[str] = []
    compared = 0
    for _ in range(EXPRESSIONS):
        text = make(rng)
        if not _fires_at_all(text, dialect):
            continue
        for start in _starts(rng, zone_name):
            ours = [fire.at for fire in _ours(text, dialect, start)]
            theirs = oracle(text, start)
            if _crosses_dst(start, max(ours[-1], theirs[-1]).astimezone(start.tzinfo)):
                continue
            compared += 1
            if ours != [moment.astimezone(UTC) for moment in theirs]:
                problems.append(f"{text!r} after {start}: ours {ours} theirs {theirs}")
    return problems, compared


def _croniter_next(
    text: str, start: datetime, *, seconds: bool = False
) -> list[datetime]:
    iterator = croniter(text, start, second_at_beginning=seconds)
    return [iterator.get_next(datetime) for _ in range(FIRES_PER_START)]


def _cronsim_next(text: str, start: datetime) -> list[datetime]:
    iterator = CronSim(text, start)
    return [next(iterator) for _ in range(FIRES_PER_START)]


@pytest.mark.parametrize("zone_name", ["UTC", "Europe/Berlin"])
def test_unix_expressions_agree_with_cronsim(zone_name: str) -> None:
    problems, compared = _mismatches(
        _cronsim_expression, _cronsim_next, zone_name, Dialect.UNIX, seed=11
    )
    assert compared > EXPRESSIONS
    assert problems == []


@pytest.mark.parametrize("zone_name", ["UTC", "Europe/Berlin"])
def test_unix_expressions_agree_with_croniter(zone_name: str) -> None:
    problems, compared = _mismatches(
        _croniter_expression, _croniter_next, zone_name, Dialect.UNIX, seed=12
    )
    assert compared > EXPRESSIONS
    assert problems == []


@pytest.mark.parametrize("zone_name", ["UTC", "Europe/Berlin"])
def test_spring_expressions_agree_with_croniter_seconds_first(zone_name: str) -> None:
    def oracle(text: str, start: datetime) -> list[datetime]:
        return _croniter_next(text, start, seconds=True)

    problems, compared = _mismatches(
        _spring_expression, oracle, zone_name, Dialect.SPRING, seed=13
    )
    assert compared > EXPRESSIONS
    assert problems == []


@pytest.mark.parametrize(
    "text",
    ["0 0 * * 5L", "0 0 LW * *", "0 0 1 * 5#2", "0 0 */2 * FRI", "0 0 L * 5"],
)
def test_specials_croniter_lacks_agree_with_cronsim(text: str) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    ours = [fire.at for fire in _ours(text, Dialect.UNIX, start)]
    assert ours == _cronsim_next(text, start)
