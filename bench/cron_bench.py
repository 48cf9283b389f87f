"""Next-fire throughput: our evaluator against croniter and cronsim.

Run: .venv/bin/python bench/cron_bench.py  (about 15 seconds)

Every implementation gets the same expressions and the same aware start
instants in the same run, and is called the way its users call it:
`croniter(expr, start).get_next(datetime)`, `next(CronSim(expr, start))`, and
ours both with parsing per call (the like-for-like figure, and what the
dispatcher pays each time it advances a schedule) and with the expression
parsed once (what a caller that keeps the parsed expression gets).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from croniter import croniter
from cronsim import CronSim

from schedules.timing import (
    CronExpression,
    CronTrigger,
    load_zone,
    next_fire,
)

COMMON = (
    "*/5 * * * *",
    "0 9 * * 1-5",
    "30 2 * * *",
    "0 0 1 * *",
    "23 0-20/2 * * *",
    "5 4 * * SUN",
    "0 0 1,15 * 3",
    "0 12 * JAN,JUL *",
    "0 0 29 2 *",
    "*/7 8-18 * * MON-FRI",
)
OURS_ONLY = ("0 0 L-2 * *", "0 0 15W * *", "0 0 0 ? * 6L *", "0 30 2 ? * FRI#3")
ZONES = ("UTC", "Europe/Berlin")
SECONDS_PER_CASE = 1.0

Call = Callable[[str, datetime], object]


@dataclass(frozen=True)
class Row:
    label: str
    rates: dict[str, float]  # implementation -> next-fire computations per second


def _starts(zone_name: str) -> list[datetime]:
    zone = load_zone(zone_name)
    first = datetime(2026, 1, 3, 7, 11, 13, tzinfo=zone)
    # 24 starts spread over a year, none on a DST night.
    return [first + timedelta(days=15 * index, hours=index) for index in range(24)]


def _ours_parsing(zone_name: str) -> Call:
    zone = load_zone(zone_name)
    return lambda text, start: next_fire(
        CronTrigger(CronExpression.parse(text), zone), after=start
    )


def _ours_parsed(zone_name: str, texts: Sequence[str]) -> Call:
    zone = load_zone(zone_name)
    triggers = {text: CronTrigger(CronExpression.parse(text), zone) for text in texts}
    return lambda text, start: next_fire(triggers[text], after=start)


def _croniter(text: str, start: datetime) -> object:
    return croniter(text, start).get_next(datetime)


def _cronsim(text: str, start: datetime) -> object:
    return next(CronSim(text, start))


def _rate(call: Call, texts: Sequence[str], starts: Sequence[datetime]) -> float:
    cases = [(text, start) for text in texts for start in starts]
    done, began = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - began) < SECONDS_PER_CASE:
        for text, start in cases:
            call(text, start)
        done += len(cases)
    return done / elapsed


def run() -> list[Row]:
    rows = []
    for zone_name in ZONES:
        starts = _starts(zone_name)
        implementations: dict[str, Call] = {
            "ours": _ours_parsing(zone_name),
            "ours parsed once": _ours_parsed(zone_name, COMMON),
            "croniter": _croniter,
            "cronsim": _cronsim,
        }
        rates = {
            name: _rate(call, COMMON, starts) for name, call in implementations.items()
        }
        rows.append(Row(f"common, {zone_name}", rates))
        only = {
            "ours": _ours_parsing(zone_name),
            "ours parsed once": _ours_parsed(zone_name, OURS_ONLY),
        }
        rates = {name: _rate(call, OURS_ONLY, starts) for name, call in only.items()}
        rows.append(Row(f"ours-only syntax, {zone_name}", rates))
    return rows


def _ratio(rates: dict[str, float], ours: str, peer: str) -> str:
    if peer not in rates:
        return "-"
    return f"{rates[ours] / rates[peer]:.2f}x"


def render(rows: Sequence[Row]) -> str:
    header = (
        f"{'case':<32} {'ours/s':>9} {'parsed/s':>9} {'croniter/s':>11} "
        f"{'cronsim/s':>10} {'vs croniter':>12} {'vs cronsim':>11} "
        f"{'parsed vs croniter':>19} {'parsed vs cronsim':>18}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        rates = row.rates

        def cell(name: str, width: int, rates: dict[str, float] = rates) -> str:
            return f"{rates[name]:>{width},.0f}" if name in rates else f"{'-':>{width}}"

        lines.append(
            f"{row.label:<32} {cell('ours', 9)} {cell('ours parsed once', 9)} "
            f"{cell('croniter', 11)} {cell('cronsim', 10)} "
            f"{_ratio(rates, 'ours', 'croniter'):>12} "
            f"{_ratio(rates, 'ours', 'cronsim'):>11} "
            f"{_ratio(rates, 'ours parsed once', 'croniter'):>19} "
            f"{_ratio(rates, 'ours parsed once', 'cronsim'):>18}"
        )
    return "\n".join(lines)


def main() -> None:
    began = time.perf_counter()
    rows = run()
    print(render(rows))
    print(f"\n(next-fire computations per second; {time.perf_counter() - began:.1f} s)")
    python = sys.version.split()[0]
    print(f"measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, Python {python}")


if __name__ == "__main__":
    main()
