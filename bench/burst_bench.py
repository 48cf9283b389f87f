"""Burst: N schedules due in the same second, ours vs django-celery-beat vs bare Celery.

Runs against the configured database and broker; give it a SCRATCH database
(it migrates it and deletes what it made) and a broker nobody else consumes:

    DATABASE_URL=postgres://.../scratch CELERY_BROKER_URL=redis://... \\
        python bench/burst_bench.py 1000 10000 [--peer-cap SECONDS]

One real worker (prefork, 2 processes, queue `runs`) serves all three columns,
one after the other, in the same run:

* ours: N interval schedules due at T; the dispatcher loop (as inside beat)
  creates the runs and sends them JOBRUN_RUNS_PER_MESSAGE per message (1: one
  message per run), the worker executes `core.echo` (a no-op service);
* django-celery-beat: N one-off clocked PeriodicTasks at T, its stock
  DatabaseScheduler in a `celery beat` process sends the no-op `bench.noop`;
* bare Celery: `bench.noop.apply_async` N times from this process at T.

Printed per size: seconds from T until all runs are created (ours) / sent,
started and finished; start lag p50/p99/max; duplicate runs; and the ratios.
Then statements per fire (dispatcher) and per run (worker path, in process).
A peer that has not started everything within --peer-cap seconds is reported
with the count it reached (django-celery-beat sends about 10/s at 10,000).
"""

from __future__ import annotations

import argparse
import collections
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import _common  # first: it sets Django up

# isort: split
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from bench._common import (
    broker_redis,
    noop_started_key,
    purge_broker,
    seed_due_schedules,
    start_worker,
    stop,
)
from jobruns.dispatcher import dispatch_due, next_due_at
from jobruns.models import JobRun
from schedules.models import Schedule

PREFIX = "bench.burst-"
LEAD_SECONDS = 3.0  # T is this far ahead of setup, so everything is ready at T
# ... plus the time seeding takes (schedules per second, a loaded 2-core machine's
# worst): at 100,000 the seeding alone took longer than 3 s, so every fire was
# late before the dispatcher saw it.
SEED_RATE = 2000.0


@dataclass
class Column:
    name: str
    size: int
    created: float | None = None  # seconds from T until the last run/message exists
    started: float | None = None
    finished: float | None = None
    count_started: int = 0
    lags_ms: list[float] = field(default_factory=list)
    duplicates: int = 0
    note: str = ""
    # Ours only: runs queued on time, queued late (catch-up), fires not run.
    on_time: int = 0
    late: int = 0
    dropped: int = 0


# --- ours --------------------------------------------------------------------------
def clean_ours() -> None:
    JobRun.objects.filter(schedule_name__startswith=PREFIX).delete()
    Schedule.objects.filter(name__startswith=PREFIX).delete()


def run_ours(size: int, cap: float) -> tuple[Column, float]:
    clean_ours()
    purge_broker()
    due = timezone.now() + timedelta(seconds=LEAD_SECONDS + size / SEED_RATE)
    seed_due_schedules(PREFIX, size, due)
    if timezone.now() > due:
        raise SystemExit(f"seeding {size:,} schedules took longer than the lead")
    statements = [0]
    fires = [0]
    created: list[float] = []
    stop_event = threading.Event()
    written = JobRun.objects.filter(schedule_name__startswith=PREFIX)

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements[0] += 1
        return execute(sql, params, many, context)

    def loop() -> None:
        # The loop of jobruns.beat.dispatch_tick, with its statements counted.
        try:
            while not stop_event.is_set():
                idle = statements[0]
                with connection.execute_wrapper(count):
                    made = dispatch_due(now=timezone.now())
                if not made:
                    statements[0] = idle  # an idle tick: no fire to charge it to
                fires[0] += made
                # Every schedule has its row (queued, or skipped if dispatched
                # too late for its missed-fire policy), committed and published:
                # dispatch_due returns after both.
                if made and not created and written.count() >= size:
                    created.append(time.time() - due.timestamp())
                upcoming = next_due_at()
                wait = 0.5 if upcoming is None else (upcoming - timezone.now())
                stop_event.wait(max(0.005, min(0.5, _common.seconds(wait))))
        finally:
            connection.close()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    runs = JobRun.objects.filter(schedule_name__startswith=PREFIX)
    try:
        _wait(lambda: runs.filter(finished_at__isnull=False).count() >= size, due, cap)
    finally:
        stop_event.set()
        thread.join(timeout=60)
    column = _ours_column(size, due)
    # Not max(queued_at): a run's queued_at is its tick's (or batch's) `now`.
    column.created = created[0] if created else None
    per_fire = statements[0] / fires[0] if fires[0] else float("nan")
    return column, per_fire


def _ours_column(size: int, due: datetime) -> Column:
    fired = JobRun.objects.filter(schedule_name__startswith=PREFIX)
    rows = list(
        fired.values_list("schedule_id", "scheduled_for", "started_at", "finished_at")
    )
    column = Column("ours", size)
    column.duplicates = sum(
        n - 1 for n in collections.Counter((r[0], r[1]) for r in rows).values() if n > 1
    )
    # A dropped fire (a skipped row) has no run: "all started" means all that run.
    ran = fired.exclude(status=JobRun.Status.SKIPPED)
    column.on_time = ran.filter(trigger=JobRun.Trigger.SCHEDULED).count()
    column.late = ran.filter(trigger=JobRun.Trigger.CATCHUP).count()
    column.dropped = sum(
        fired.filter(status=JobRun.Status.SKIPPED).values_list(
            "skipped_count", flat=True
        )
    )
    runs = list(ran.values_list("scheduled_for", "started_at", "finished_at"))
    started = [r for r in runs if r[1] is not None]
    column.count_started = len(started)
    if started and len(started) >= len(runs):
        column.started = max((r[1] - due).total_seconds() for r in started)
    finished = [r[2] for r in runs if r[2] is not None]
    if finished and len(finished) >= len(runs):
        column.finished = max((at - due).total_seconds() for at in finished)
    column.lags_ms = sorted((r[1] - r[0]).total_seconds() * 1000 for r in started)
    return column


# --- django-celery-beat --------------------------------------------------------------
def run_beat(size: int, cap: float) -> Column:
    from django_celery_beat.models import ClockedSchedule, PeriodicTask

    PeriodicTask.objects.filter(name__startswith=PREFIX).delete()
    purge_broker()
    due = timezone.now() + timedelta(seconds=LEAD_SECONDS + 5)  # beat's start-up
    clocked = ClockedSchedule.objects.create(clocked_time=due)
    PeriodicTask.objects.bulk_create(
        (
            PeriodicTask(
                name=f"{PREFIX}{i}",
                task="bench.noop",
                args=f'["{i}"]',
                clocked=clocked,
                one_off=True,
                queue="runs",
            )
            for i in range(size)
        ),
        batch_size=2000,
    )
    # Only the benchmark's tasks: the project's own periodic tasks stay quiet.
    with _common.only_bench_periodic_tasks(PREFIX):
        beat = _common.start_beat(_common.BEAT_PEER)
        try:
            _wait(lambda: broker_redis().llen(noop_started_key()) >= size, due, cap)
        finally:
            stop(beat)
            PeriodicTask.objects.filter(name__startswith=PREFIX).delete()
            clocked.delete()
    return _peer_column("django-celery-beat", size, due)


# --- bare Celery ----------------------------------------------------------------------
def run_bare(size: int, cap: float) -> Column:
    from bench.noop_task import noop

    purge_broker()
    due = timezone.now() + timedelta(seconds=LEAD_SECONDS)
    time.sleep(max(0.0, (due - timezone.now()).total_seconds()))
    with noop.app.producer_or_acquire() as producer:
        for i in range(size):
            noop.apply_async(args=[str(i)], queue="runs", producer=producer)
    sent = (timezone.now() - due).total_seconds()
    _wait(lambda: broker_redis().llen(noop_started_key()) >= size, due, cap)
    column = _peer_column("bare Celery", size, due)
    column.created = sent
    return column


def _peer_column(name: str, size: int, due: datetime) -> Column:
    column = Column(name, size)
    entries = _common.noop_starts()
    tags = collections.Counter(tag for tag, _ in entries)
    column.duplicates = sum(n - 1 for n in tags.values() if n > 1)
    starts = sorted(at - due.timestamp() for _, at in entries)
    column.count_started = len(tags)
    if len(tags) >= size:
        column.started = column.finished = starts[-1]
        column.note = "finished = started (no-op)"
    column.lags_ms = [s * 1000 for s in starts]
    return column


# --- helpers and the table --------------------------------------------------------
def _wait(done: Any, due: datetime, cap: float) -> None:
    deadline = due.timestamp() + cap
    while time.time() < deadline:
        if done():
            return
        time.sleep(0.25)


def _fmt(value: float | None, column: Column) -> str:
    if value is None:
        return f"> cap ({column.count_started:,} started)"
    return f"{value:.2f}"


def _created(column: Column) -> str:
    if column.name == "django-celery-beat":
        return "-"  # beat's sends are not observable apart from the starts
    return _fmt(column.created, column)


def _ratio(ours: float | None, peer: float | None) -> str:
    if ours is None or peer is None or ours == 0:
        return "-"
    return f"{peer / ours:.2f}x"


def _pct(values: list[float], q: float) -> str:
    if not values:
        return "-"
    return f"{values[min(len(values) - 1, int(len(values) * q))]:.0f}"


def print_table(columns: list[Column]) -> None:
    print(
        "| size | system | created/sent s | started s | finished s | lag p50 ms "
        "| lag p99 ms | lag max ms | duplicates |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for c in columns:
        lags = c.lags_ms
        print(
            f"| {c.size:,} | {c.name} | {_created(c)} "
            f"| {_fmt(c.started, c)} | {_fmt(c.finished, c)} | {_pct(lags, 0.5)} "
            f"| {_pct(lags, 0.99)} | {lags[-1] if lags else 0:.0f} | {c.duplicates} |"
        )


def print_fires(columns: list[Column]) -> None:
    """Ours: what became of each fire (a fire dispatched late is not on time)."""
    print()
    print(
        "| size | ours: runs created | of them on time | late (catch-up) "
        "| fires dropped (skipped) | duplicates |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for c in columns:
        if c.name == "ours":
            print(
                f"| {c.size:,} | {c.on_time + c.late:,} | {c.on_time:,} "
                f"| {c.late:,} | {c.dropped:,} | {c.duplicates} |"
            )


def print_ratios(columns: list[Column]) -> None:
    started = {(c.size, c.name): c.started for c in columns}
    print()
    print("| size | all started: beat / ours | all started: bare Celery / ours |")
    print("| --- | --- | --- |")
    for size in sorted({c.size for c in columns}):
        ours = started.get((size, "ours"))
        beat = started.get((size, "django-celery-beat"))
        bare = started.get((size, "bare Celery"))
        print(f"| {size:,} | {_ratio(ours, beat)} | {_ratio(ours, bare)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[1000])
    parser.add_argument("--peer-cap", type=float, default=120.0)
    parser.add_argument("--cap", type=float, default=600.0)
    parser.add_argument("--no-beat", action="store_true")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    began = time.monotonic()
    worker = start_worker()
    columns: list[Column] = []
    per_fire: list[float] = []
    try:
        for size in args.sizes:
            ours, statements = run_ours(size, args.cap)
            columns.append(ours)
            per_fire.append(statements)
            if not args.no_beat:
                columns.append(run_beat(size, args.peer_cap))
            columns.append(run_bare(size, args.peer_cap))
        per_run = (
            _common.statements_per_run(PREFIX),
            _common.statements_per_run(PREFIX, bundled=True),
        )
    finally:
        stop(worker)
        clean_ours()
    print_table(columns)
    print_fires(columns)
    print_ratios(columns)
    print()
    fires = ", ".join(f"{s:.2f}" for s in per_fire)
    print(f"statements per fire (dispatcher): {fires}")
    alone, bundled = per_run
    print(
        f"statements per run (worker path, core.echo): {alone:.1f} sent alone, "
        f"{bundled:.1f} in a message of 20"
    )
    print(
        f"(batch {settings.SCHEDULER_DISPATCH_BATCH_SIZE}, "
        f"{getattr(settings, 'JOBRUN_RUNS_PER_MESSAGE', 1)} runs per message)"
    )
    print(_common.machine_line(began))


if __name__ == "__main__":
    main()
