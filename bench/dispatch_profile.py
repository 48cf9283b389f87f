"""The dispatcher alone: N interval schedules due at once, one `dispatch_due`.

Publishing is mocked (the broker is measured by burst_bench and scale_bench);
this isolates the database statements and the dispatcher's own Python. Per
round it prints wall time, the dispatcher process's CPU time, fires per second
and, per kind of statement, how many ran and the milliseconds spent waiting on
them; with PROFILE=1 also cProfile's top functions. The statistics of the run
table are refreshed before each round with no run in it, as after a quiet
period: the plans are those a burst meets. SCHEDULER_DISPATCH_CONNECTIONS=1
measures a backlog worked on one connection. Give it a SCRATCH database;
BENCH_ROOT measures another checkout (the "before" figures):

    DATABASE_URL=postgres://.../scratch python bench/dispatch_profile.py 10000
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import _common  # first: it sets Django up

# isort: split
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from jobruns.dispatcher import dispatch_due
from jobruns.models import JobRun
from schedules.models import Schedule

PREFIX = "bench.dispatch-profile-"


def _clean() -> None:
    JobRun.objects.filter(schedule_name__startswith=PREFIX).delete()
    Schedule.objects.filter(name__startswith=PREFIX).delete()


def _statement_timer(spent: dict[str, list[float]]) -> Callable[..., Any]:
    def timed(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            kind = spent.setdefault(" ".join(sql.split()[:4])[:70], [0, 0.0])
            kind[0] += 1
            kind[1] += time.perf_counter() - start

    return timed


def one_round(size: int, profile: cProfile.Profile | None) -> None:
    _clean()
    _common.seed_due_schedules(PREFIX, size, timezone.now())
    with connection.cursor() as cursor:
        # VACUUM too: rounds on one database must not pile up dead rows (this
        # machine's PostgreSQL runs with autovacuum off).
        cursor.execute(
            f"VACUUM ANALYZE {Schedule._meta.db_table}, {JobRun._meta.db_table}"
        )
    spent: dict[str, list[float]] = {}
    with (
        mock.patch("jobruns.services._publish"),
        connection.execute_wrapper(_statement_timer(spent)),
    ):
        wall, cpu = time.perf_counter(), time.process_time()
        if profile:
            profile.enable()
        made = dispatch_due(now=timezone.now())
        if profile:
            profile.disable()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        f"{made:,} fires: wall {wall:.2f} s, dispatcher CPU {cpu:.2f} s, "
        f"{made / wall:,.0f} fires/s"
    )
    for what, (count, seconds) in sorted(spent.items(), key=lambda kv: -kv[1][1]):
        print(f"  {count:5d} x {what:<70} {seconds * 1000:8.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("size", nargs="?", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    began = time.monotonic()
    profile = cProfile.Profile() if os.environ.get("PROFILE") else None
    try:
        for _ in range(args.rounds):
            one_round(args.size, profile)
    finally:
        _clean()
    if profile:
        stats = pstats.Stats(profile)
        stats.sort_stats("cumulative").print_stats(40)
        stats.sort_stats("tottime").print_stats(25)
    print(_common.machine_line(began))


if __name__ == "__main__":
    main()
