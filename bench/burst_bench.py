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
import os
import platform
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent.parent
# BENCH_ROOT: measure another checkout (the "before" figures) with this bench.
ROOT = Path(os.environ.get("BENCH_ROOT", HERE))
sys.path[:0] = [str(ROOT), str(HERE)]
os.chdir(ROOT)  # Celery puts the working directory first on sys.path
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scheduler_site.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from jobruns.dispatcher import dispatch_due, next_due_at  # noqa: E402
from jobruns.models import JobRun  # noqa: E402
from schedules.models import Schedule  # noqa: E402

PREFIX = "bench.burst-"
LEAD_SECONDS = 3.0  # T is this far ahead of setup, so everything is ready at T


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


# --- the worker --------------------------------------------------------------------
def start_worker() -> subprocess.Popen[bytes]:
    from core.models import WorkerHeartbeat

    hostname = f"bench-{uuid.uuid4().hex[:6]}@{platform.node()}"
    env = {**os.environ, "PYTHONPATH": _pythonpath()}
    log = (Path(settings.VAR_DIR) / "bench-worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "scheduler_site", "worker",
         "--hostname", hostname, "-Q", "runs", "--pool", "prefork",
         "--concurrency", "2", "--loglevel", "WARNING", "--without-gossip",
         "--without-mingle", "-I", "bench.noop_task"],
        cwd=ROOT, env=env, start_new_session=True, stdout=log, stderr=log,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not WorkerHeartbeat.objects.filter(hostname=hostname).exists():
        if time.monotonic() > deadline or worker.poll() is not None:
            raise SystemExit("the benchmark worker did not start; see its log")
        time.sleep(0.2)
    return worker


def _pythonpath() -> str:
    # `bench` must be this package even when BENCH_ROOT points at a checkout
    # without it: a regular package wins over a folder without __init__.py.
    return os.pathsep.join([str(ROOT), str(HERE)])


def stop(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, 15)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.wait()


def purge_broker() -> None:
    from scheduler_site.celery import app

    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("runs")
    _redis().delete(_started_key())


def _redis() -> Any:
    import redis

    return redis.Redis.from_url(settings.CELERY_BROKER_URL)


def _started_key() -> str:
    from bench.noop_task import STARTED

    return STARTED


# --- ours --------------------------------------------------------------------------
def clean_ours() -> None:
    JobRun.objects.filter(schedule_name__startswith=PREFIX).delete()
    Schedule.objects.filter(name__startswith=PREFIX).delete()


def run_ours(size: int, cap: float) -> tuple[Column, float]:
    clean_ours()
    purge_broker()
    due = timezone.now() + timedelta(seconds=LEAD_SECONDS)
    Schedule.objects.bulk_create(
        (
            Schedule(
                name=f"{PREFIX}{i}",
                kind="interval",
                interval_hours=1,
                start_at=due,
                next_run_at=due,
                target="core.echo",
                created_at=due,
            )
            for i in range(size)
        ),
        batch_size=2000,
    )
    statements = [0]
    fires = [0]
    created: list[float] = []
    stop_event = threading.Event()

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
                if fires[0] >= size and not created:
                    # Committed and published: dispatch_due returns after both.
                    created.append(time.time() - due.timestamp())
                upcoming = next_due_at()
                wait = 0.5 if upcoming is None else (upcoming - timezone.now())
                stop_event.wait(max(0.005, min(0.5, _seconds(wait))))
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
    rows = list(
        JobRun.objects.filter(schedule_name__startswith=PREFIX).values_list(
            "schedule_id", "scheduled_for", "started_at", "finished_at"
        )
    )
    column = Column("ours", size)
    column.duplicates = sum(
        n - 1 for n in collections.Counter((r[0], r[1]) for r in rows).values() if n > 1
    )
    started = [r for r in rows if r[2] is not None]
    column.count_started = len(started)
    if len(started) >= size:
        column.started = max((r[2] - due).total_seconds() for r in started)
    finished = [r[3] for r in rows if r[3] is not None]
    if len(finished) >= size:
        column.finished = max((at - due).total_seconds() for at in finished)
    column.lags_ms = sorted((r[2] - r[1]).total_seconds() * 1000 for r in started)
    return column


def statements_per_run(count: int = 20) -> tuple[float, float]:
    """The worker's path (claim, run core.echo, finish) in this process.

    Per run sent alone (`jobruns.execute_run`) and per run of one message of
    `count` runs (`jobruns.execute_runs`, what the dispatcher sends).
    """
    import jobruns.services

    alone = _statements_per_run(count, bundled=False)
    if not hasattr(jobruns.services, "jobrun_execute_many"):
        return alone, float("nan")  # a checkout from before bundled messages
    return alone, _statements_per_run(count, bundled=True)


def _statements_per_run(count: int, *, bundled: bool) -> float:
    from django.test.utils import CaptureQueriesContext

    from jobruns import services
    from jobruns.services import jobrun_enqueue, jobrun_execute

    schedule = Schedule.objects.create(
        name=f"{PREFIX}per-run", kind="interval", interval_hours=1,
        target="core.echo", overlap_policy="allow",
    )  # fmt: skip
    from unittest import mock

    with mock.patch("jobruns.tasks.execute_run.apply_async"):
        ids = [
            jobrun_enqueue(schedule=schedule, trigger="api", now=timezone.now()).pk
            for _ in range(count)
        ]
    control = ("SAVEPOINT", "RELEASE SAVEPOINT", "BEGIN", "COMMIT")
    total = 0
    with CaptureQueriesContext(connection) as queries:
        if bundled:
            services.jobrun_execute_many(run_ids=ids, worker="bench", task_id="bench")
        else:
            for run_id in ids:
                jobrun_execute(run_id=run_id, worker="bench")
    total += sum(not q["sql"].startswith(control) for q in queries.captured_queries)
    clean_ours()
    return total / count


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
    others = list(
        PeriodicTask.objects.exclude(name__startswith=PREFIX)
        .filter(enabled=True)
        .values_list("pk", flat=True)
    )
    PeriodicTask.objects.filter(pk__in=others).update(enabled=False)
    from django_celery_beat.models import PeriodicTasks

    PeriodicTasks.update_changed()
    env = {**os.environ, "PYTHONPATH": _pythonpath()}
    log = (Path(settings.VAR_DIR) / "bench-beat.log").open("wb")
    schedule_file = Path(settings.VAR_DIR) / f"bench-beat-{uuid.uuid4().hex[:6]}"
    beat = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "scheduler_site", "beat",
         "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler",
         "--loglevel", "WARNING", "--max-interval", "1", "-s", str(schedule_file)],
        cwd=ROOT, env=env, start_new_session=True, stdout=log, stderr=log,
    )  # fmt: skip
    try:
        _wait(lambda: _redis().llen(_started_key()) >= size, due, cap)
    finally:
        stop(beat)
        PeriodicTask.objects.filter(name__startswith=PREFIX).delete()
        PeriodicTask.objects.filter(pk__in=others).update(enabled=True)
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
    _wait(lambda: _redis().llen(_started_key()) >= size, due, cap)
    column = _peer_column("bare Celery", size, due)
    column.created = sent
    return column


def _peer_column(name: str, size: int, due: datetime) -> Column:
    column = Column(name, size)
    entries = [item.decode().split() for item in _redis().lrange(_started_key(), 0, -1)]
    tags = collections.Counter(tag for tag, _ in entries)
    column.duplicates = sum(n - 1 for n in tags.values() if n > 1)
    starts = sorted(float(at) - due.timestamp() for _, at in entries)
    column.count_started = len(tags)
    if len(tags) >= size:
        column.started = column.finished = starts[-1]
        column.note = "finished = started (no-op)"
    column.lags_ms = [s * 1000 for s in starts]
    return column


# --- helpers and the table --------------------------------------------------------
def _seconds(value: Any) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


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
        per_run = statements_per_run()
    finally:
        stop(worker)
        clean_ours()
    print_table(columns)
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
        f"{getattr(settings, 'JOBRUN_RUNS_PER_MESSAGE', 1)} runs per message; "
        f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}; "
        f"{time.monotonic() - began:.0f} s; {connection.vendor} "
        f"{getattr(connection, 'pg_version', '')}, "
        f"Python {platform.python_version()}, Django {django.get_version()}, "
        f"{os.cpu_count()} cores, measured {timezone.now():%Y-%m-%d %H:%M} UTC)"
    )


if __name__ == "__main__":
    main()
