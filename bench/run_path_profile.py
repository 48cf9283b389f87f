"""The worker's run path in one process: ms per run over messages of 20 runs.

`jobrun_execute_many` (what a worker slot runs per message, without Celery) over
MESSAGES messages of 20 `core.echo` runs of 20 allow-overlap schedules. Prints
the statements of one message, statements per run (control statements
included) and ms per run; with PROFILE=1 also cProfile's top functions. Give it
a SCRATCH database; BENCH_ROOT measures another checkout:

    DATABASE_URL=postgres://.../scratch python bench/run_path_profile.py 40 2>/dev/null
"""

from __future__ import annotations

import cProfile
import os
import pstats
import sys
import time
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import _common  # first: it sets Django up

# isort: split
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jobruns import services
from jobruns.models import JobRun
from schedules.models import Schedule

PREFIX = "bench.run-path-"
PER_MESSAGE = 20


def _message(schedules: list[Schedule]) -> list[int]:
    with mock.patch("jobruns.tasks.execute_run.apply_async"):
        return [
            services.jobrun_enqueue(
                schedule=schedule, trigger="api", now=timezone.now()
            ).pk
            for schedule in schedules
        ]


def main() -> None:
    messages = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    call_command("migrate", verbosity=0)
    began = time.monotonic()
    schedules = [
        Schedule.objects.create(
            name=f"{PREFIX}{i}",
            kind="interval",
            interval_hours=1,
            target="core.echo",
            overlap_policy="allow",
        )
        for i in range(PER_MESSAGE)
    ]
    try:
        batches = [_message(schedules) for _ in range(messages + 2)]
        services.jobrun_execute_many(run_ids=batches.pop(), worker="w", task_id="t")
        with CaptureQueriesContext(connection) as queries:
            services.jobrun_execute_many(run_ids=batches.pop(), worker="w", task_id="t")
        for query in queries.captured_queries[:4]:
            print(query["time"], query["sql"][:120])
        print(f"statements per run: {len(queries.captured_queries) / PER_MESSAGE:.2f}")
        profile = cProfile.Profile()
        start = time.perf_counter()
        if os.environ.get("PROFILE"):
            profile.enable()
        for batch in batches:
            services.jobrun_execute_many(run_ids=batch, worker="w", task_id="t")
        profile.disable()
        spent = time.perf_counter() - start
        runs = len(batches) * PER_MESSAGE
        print(f"{runs} runs in {spent:.2f} s: {spent / runs * 1000:.2f} ms per run")
        if os.environ.get("PROFILE"):
            stats = pstats.Stats(profile)
            stats.sort_stats("cumulative").print_stats(40)
            stats.sort_stats("tottime").print_stats(20)
    finally:
        JobRun.objects.filter(schedule_name__startswith=PREFIX).delete()
        Schedule.objects.filter(name__startswith=PREFIX).delete()
    print(_common.machine_line(began))


if __name__ == "__main__":
    main()
