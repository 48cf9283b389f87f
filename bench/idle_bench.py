"""Idle: the tick's cost and edit-to-effect latency at N stored schedules.

Runs against the configured PostgreSQL database and broker; give it a SCRATCH
database (it migrates it, fills it and deletes what it made):

    DATABASE_URL=postgres://.../scratch CELERY_BROKER_URL=redis://... \\
        python bench/idle_bench.py 1000 10000 100000 1000000 [--repeat 200]

Per size N, ours then django-celery-beat's DatabaseScheduler with N PeriodicTasks:

* seed: N rows by one ``INSERT ... SELECT generate_series`` (then VACUUM
  ANALYZE); half of them paused (beat: disabled), half active and due in 30
  days or later (beat: enabled interval tasks every 30 days, last run now);
* idle tick: ours is ``jobruns.beat.dispatch_tick()`` (the reaper when due,
  dispatch_due, next_due_at, the alive mark) with nothing due, --repeat times;
  beat's is ``DatabaseScheduler.tick()`` in this process with nothing due and
  nothing changed, and again right after a change (PeriodicTasks.update_changed,
  as any save of a PeriodicTask does), when it re-reads every enabled task;
* edit-to-effect: a real ``celery beat`` runs; ours gets a new one-time schedule
  due now (its trigger NOTIFYs the sleeping dispatcher) and the clock stops
  when its run row exists; beat gets a new one-off clocked PeriodicTask due now
  and the clock stops when its message is on the broker (a queue nobody
  consumes). Polled every 5 ms. Beat runs with its default 5 s max interval,
  ours with its defaults (SCHEDULER_DISPATCH_MAX_SLEEP_MS).

The peer is measured up to --peer-max schedules (its beat holds every enabled
task in memory and re-reads them all on each change).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import _common  # first: it sets Django up

# isort: split
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from bench._common import ms, pct, start_beat, stop
from jobruns.beat import dispatch_tick
from jobruns.models import JobRun
from schedules.models import Schedule
from schedules.services import schedule_create

PREFIX = "bench.idle-"
EDIT_QUEUE = "bench-edit"  # nobody consumes it: beat's sends stay countable
POLL = 0.005
EFFECT_CAP = 30.0


@dataclass
class Timings:
    times_ms: list[float] = field(default_factory=list)
    statements: list[int] = field(default_factory=list)

    def cells(self) -> str:
        t = self.times_ms
        if not t:
            return "- | - | -"
        stmts = sorted(self.statements)
        median = stmts[len(stmts) // 2] if stmts else 0
        spread = f"{median}" + (
            f" (max {stmts[-1]})" if stmts and stmts[-1] != median else ""
        )
        return f"{ms(pct(t, 0.5), 1)} | {ms(pct(t, 0.99), 1)} | {spread}"


@dataclass
class Size:
    n: int
    seed_s: float = 0.0
    peer_seed_s: float | None = None
    tick: Timings = field(default_factory=Timings)
    peer_tick: Timings = field(default_factory=Timings)
    peer_changed: Timings = field(default_factory=Timings)
    effect_ms: list[float] = field(default_factory=list)
    peer_effect_ms: list[float] = field(default_factory=list)


# --- seeding --------------------------------------------------------------------------
def _column_defaults(model: Any, **values: Any) -> tuple[list[str], list[Any]]:
    """Columns and database values of an unsaved `model(**values)`, its pk left out."""
    row = model(**values)
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    params = [f.get_db_prep_save(getattr(row, f.attname), connection) for f in fields]
    return [f.column for f in fields], params


def seed_ours(n: int) -> float:
    """N schedules in one statement: even i paused, odd i due in 30 days + i s."""
    columns, params = _column_defaults(
        Schedule, name="x", kind="interval", interval_days=30, target="core.echo"
    )
    computed = {
        "name": "%s || i",
        "is_paused": "i % 2 = 0",
        "paused_at": "CASE WHEN i % 2 = 0 THEN now() END",
        "start_at": "now()",
        "next_run_at": (
            "CASE WHEN i % 2 = 1 THEN now() + interval '30 days' "
            "+ i * interval '1 second' END"
        ),
    }
    return _insert_series("schedules_schedule", columns, params, computed, n)


def seed_peer(n: int) -> float:
    """N PeriodicTasks of bench.noop: even i disabled, odd i every 30 days, run now."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    interval, _ = IntervalSchedule.objects.get_or_create(every=30, period="days")
    columns, params = _column_defaults(
        PeriodicTask, name="x", task="bench.noop", args='["idle"]', interval=interval,
        queue=EDIT_QUEUE, date_changed=timezone.now(),
    )  # fmt: skip
    computed = {
        "name": "%s || i",
        "enabled": "i % 2 = 1",
        "last_run_at": "now()",
    }
    return _insert_series(
        "django_celery_beat_periodictask", columns, params, computed, n
    )


def _insert_series(
    table: str, columns: list[str], params: list[Any], computed: dict[str, str], n: int
) -> float:
    values = []
    args: list[Any] = []
    for column, param in zip(columns, params, strict=True):
        if column in computed:
            values.append(computed[column].replace("%", "%%").replace("%%s", "%s"))
            args += [PREFIX] if "%s" in computed[column] else []
        else:
            values.append("%s")
            args.append(param)
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) "
        f"SELECT {', '.join(values)} FROM generate_series(1, %s) AS i"
    )
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(sql, [*args, n])
        cursor.execute(f"VACUUM ANALYZE {table}")
    return time.perf_counter() - started


def clean() -> None:
    from django_celery_beat.models import PeriodicTasks

    JobRun.objects.filter(schedule_name__startswith=PREFIX).delete()
    with connection.cursor() as cursor:
        # Raw: a million-row delete through the ORM would load every row first.
        cursor.execute(
            "DELETE FROM schedules_schedule WHERE name LIKE %s", [PREFIX + "%"]
        )
        cursor.execute(
            "DELETE FROM django_celery_beat_periodictask WHERE name LIKE %s",
            [PREFIX + "%"],
        )
        cursor.execute("VACUUM ANALYZE schedules_schedule")
        cursor.execute("VACUUM ANALYZE django_celery_beat_periodictask")
    PeriodicTasks.update_changed()


# --- idle ticks -----------------------------------------------------------------------
def _timed(call: Callable[[], Any], into: Timings) -> None:
    counter = _common.StatementCounter()
    with counter.counting():
        started = time.perf_counter()
        call()
        into.times_ms.append((time.perf_counter() - started) * 1000)
    into.statements.append(counter.count)


def measure_ours_tick(size: Size, repeat: int) -> None:
    due = Schedule.objects.filter(next_run_at__lte=timezone.now(), is_paused=False)
    if due.exists():
        sys.exit("idle_bench needs a database where nothing is due")
    dispatch_tick()  # warm: the first tick opens the connection
    for _ in range(repeat):
        _timed(dispatch_tick, size.tick)
        time.sleep(0.01)


def measure_peer_tick(size: Size, repeat: int, changed_repeat: int) -> None:
    from django_celery_beat.models import PeriodicTasks
    from django_celery_beat.schedulers import DatabaseScheduler

    from scheduler_site.celery import app

    scheduler = DatabaseScheduler(app=app, max_interval=5)  # reads every task once
    scheduler.tick()
    for _ in range(repeat):
        _timed(scheduler.tick, size.peer_tick)
        time.sleep(0.01)
    for _ in range(changed_repeat):
        PeriodicTasks.update_changed()
        time.sleep(0.01)  # the change's timestamp must be newer than the last seen
        _timed(scheduler.tick, size.peer_changed)


# --- edit-to-effect -------------------------------------------------------------------
def measure_ours_effect(size: Size, edits: int) -> None:
    from django.conf import settings

    beat = start_beat(_common.OURS, "bench-beat-idle-ours.log")
    alive = Path(settings.BEAT_ALIVE_FILE)
    since = time.time()
    try:
        if not _common.wait_until(
            lambda: alive.exists() and alive.stat().st_mtime > since, since + 60, 0.1
        ):
            raise SystemExit("our beat did not start; see var/bench-beat-idle-ours.log")
        for i in range(edits):
            time.sleep(0.3 + 0.1 * (i % 3))  # land anywhere in the dispatcher's sleep
            size.effect_ms.append(_one_edit_ours(i))
    finally:
        stop(beat)
        _common.purge_broker()


def _one_edit_ours(i: int) -> float:
    now = timezone.now()
    schedule = schedule_create(
        data={"name": f"{PREFIX}edit-{i}", "kind": "one_time",
              "run_at": now + timedelta(milliseconds=10), "target": "core.echo"},
        by=None, now=now,
    )  # fmt: skip
    effective = max(time.time(), schedule.run_at.timestamp())  # type: ignore[union-attr]
    runs = JobRun.objects.filter(schedule_id=schedule.pk)
    _common.wait_until(runs.exists, effective + EFFECT_CAP, POLL)
    return (time.time() - effective) * 1000


def measure_peer_effect(size: Size, edits: int) -> None:
    from django_celery_beat.models import ClockedSchedule, PeriodicTask

    redis = _common.broker_redis()
    redis.delete(EDIT_QUEUE)
    with _common.only_bench_periodic_tasks(PREFIX):
        beat = start_beat(_common.BEAT_PEER, "bench-beat-idle-peer.log", max_interval=5)
        try:
            # Its start-up and first read of every task (about 3 s per 100,000).
            time.sleep(5 + size.n / 25_000)
            for i in range(edits):
                time.sleep(0.3 + 0.1 * (i % 3))
                before = redis.llen(EDIT_QUEUE)
                now = timezone.now()
                PeriodicTask.objects.create(
                    name=f"{PREFIX}edit-{i}", task="bench.noop", args=f'["e{i}"]',
                    clocked=ClockedSchedule.objects.create(clocked_time=now),
                    one_off=True, queue=EDIT_QUEUE,
                )  # fmt: skip
                effective = time.time()
                _common.wait_until(_grew(redis, before), effective + EFFECT_CAP, POLL)
                size.peer_effect_ms.append((time.time() - effective) * 1000)
        finally:
            stop(beat)
            redis.delete(EDIT_QUEUE)
            ClockedSchedule.objects.filter(
                periodictask__name__startswith=PREFIX
            ).delete()


def _grew(redis: Any, before: int) -> Callable[[], bool]:
    return lambda: bool(redis.llen(EDIT_QUEUE) > before)


# --- the tables -----------------------------------------------------------------------
def _ratio(ours: float | None, peer: float | None) -> str:
    if not ours or peer is None:
        return "-"
    return f"{peer / ours:.0f}x" if peer / ours >= 10 else f"{peer / ours:.1f}x"


def print_tables(sizes: list[Size]) -> None:
    print(
        "| schedules | ours tick p50 ms | p99 ms | statements | beat idle tick p50 ms "
        "| p99 ms | statements | beat tick after a change p50 ms | p99 ms | statements "
        "| after a change: beat / ours (p50) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for s in sizes:
        print(
            f"| {s.n:,} | {s.tick.cells()} | {s.peer_tick.cells()} "
            f"| {s.peer_changed.cells()} "
            f"| {_ratio(pct(s.tick.times_ms, 0.5), pct(s.peer_changed.times_ms, 0.5))}"
            " |"
        )
    print()
    print(
        "| schedules | ours edit-to-effect p50 ms | p99 ms | max ms | edits "
        "| beat p50 ms | p99 ms | max ms | edits | beat / ours (p50) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for s in sizes:
        ours, theirs = s.effect_ms, s.peer_effect_ms
        print(
            f"| {s.n:,} | {_effect_cells(ours)} | {_effect_cells(theirs)} "
            f"| {_ratio(pct(ours, 0.5), pct(theirs, 0.5))} |"
        )
    print()
    for s in sizes:
        peer = "-" if s.peer_seed_s is None else f"{s.peer_seed_s:.1f} s"
        print(f"seeded {s.n:,}: ours {s.seed_s:.1f} s, beat {peer}")


def _effect_cells(values: list[float]) -> str:
    if not values:
        return "- | - | - | 0"
    p50, p99 = ms(pct(values, 0.5)), ms(pct(values, 0.99))
    # An edit not in effect after EFFECT_CAP seconds counts as the cap.
    capped = sum(v >= EFFECT_CAP * 1000 for v in values)
    over = f" ({capped} over the {EFFECT_CAP:.0f} s cap)" if capped else ""
    return f"{p50} | {p99} | {max(values):.0f} | {len(values)}{over}"


def run_size(n: int, args: argparse.Namespace) -> Size:
    size = Size(n)
    clean()
    size.seed_s = seed_ours(n)
    print(f"seeded {n:,} schedules in {size.seed_s:.1f} s", flush=True)
    measure_ours_tick(size, args.repeat)
    measure_ours_effect(size, args.edits)
    clean()
    if n <= args.peer_max:
        size.peer_seed_s = seed_peer(n)
        print(f"seeded {n:,} periodic tasks in {size.peer_seed_s:.1f} s", flush=True)
        with _common.only_bench_periodic_tasks(PREFIX):
            changed = max(3, min(args.repeat, 20 if n < 100_000 else 5))
            measure_peer_tick(size, args.repeat, changed)
        measure_peer_effect(size, args.peer_edits)
        clean()
    return size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[1000, 10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--peer-edits", type=int, default=10)
    parser.add_argument("--peer-max", type=int, default=100_000)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("idle_bench needs PostgreSQL (DATABASE_URL=postgres://...)")
    call_command("migrate", verbosity=0)
    began = time.monotonic()
    sizes = []
    try:
        for n in args.sizes:
            sizes.append(run_size(n, args))
    finally:
        clean()
    print()
    print_tables(sizes)
    print(_common.machine_line(began))


if __name__ == "__main__":
    main()
