"""Steady load: sustained throughput against bare Celery, and precision against beat.

Runs against the configured database and broker; give it a SCRATCH database
(it migrates it and deletes what it made) and a broker nobody else consumes:

    DATABASE_URL=postgres://.../scratch CELERY_BROKER_URL=redis://... \\
        python bench/steady_bench.py [--seconds 20] [--precision-seconds 30]

One real worker (prefork, 2 processes, queue `runs`) serves every column:

* capacity: bare `bench.noop.apply_async` from this process for --seconds,
  keeping a backlog so the worker never waits; tasks started per second;
* sustained: N interval schedules every S seconds, start instants staggered
  evenly over S, so the offered rate N/S is 25 %, 50 % and 100 % of that
  capacity; run by the real `celery beat -S jobruns.beat:DispatchingScheduler`
  for --seconds; the worker runs `core.echo` (a no-op service) for each run;
* precision: 200 schedules every 5 s (--precision-every; staggered), ours against
  django-celery-beat's DatabaseScheduler with 200 interval PeriodicTasks of
  `bench.noop` every 5 s, both in a real `celery beat` (--max-interval 1).

Lag is started minus due. Ours: JobRun.started_at - scheduled_for. Beat: an
interval task is due `run_every` after it was last sent, which only beat knows;
the no-op's previous start stands in for that send (so beat's lag is
understated by one broker-to-worker hop, a few ms) and each task's first fire
is left out. Fires dropped are skipped rows (their skipped_count). After the
top level's window, its schedules are made again and the dispatch loop runs
3 s in this process so its statements per fire can be counted (idle ticks
included). "Our run path's capacity" enqueues runs straight from this process
(no dispatcher), so it tells the worker's share from the dispatcher's.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import _common  # first: it sets Django up

# isort: split
from django.conf import settings
from django.core.management import call_command
from django.db.models import QuerySet
from django.utils import timezone

from bench._common import ms, pct, purge_broker, start_beat, start_worker, stop
from jobruns.beat import dispatch_tick
from jobruns.models import JobRun
from schedules.models import Schedule

PREFIX = "bench.steady-"
WARM_UP = 1.0  # seconds at the start of a window left out of the rates
DRAIN_CAP = 60.0  # seconds to wait for the window's runs to finish
COUNT_SECONDS = 3.0


@dataclass
class Level:
    label: str
    schedules: int
    every: int
    seconds: float
    executed_per_s: float = 0.0
    lags_ms: list[float] = field(default_factory=list)
    queued_lags_ms: list[float] = field(default_factory=list)  # ours: due -> queued
    fires: int = 0
    not_started: int = 0
    dropped: int = 0
    duplicates: int = 0
    per_fire: float | None = None

    @property
    def offered_per_s(self) -> float:
        return self.schedules / self.every


# --- bare Celery: the worker's capacity -------------------------------------------
def measure_capacity(seconds: float) -> float:
    """No-op tasks the worker starts per second when it never waits for work."""
    from bench.noop_task import noop

    purge_broker()
    redis = _common.broker_redis()
    key = _common.noop_started_key()
    began = time.time()
    sent = 0
    with noop.app.producer_or_acquire() as producer:
        while time.time() < began + seconds:
            if sent - redis.llen(key) > 300:  # backlog enough: let the worker run
                time.sleep(0.01)
                continue
            for _ in range(50):
                noop.apply_async(args=[f"b{sent}"], queue="runs", producer=producer)
                sent += 1
    window = (began + WARM_UP, began + seconds)
    started = [at for _, at in _common.noop_starts() if window[0] <= at < window[1]]
    purge_broker()
    return len(started) / (window[1] - window[0])


def measure_run_path_capacity(seconds: float) -> float:
    """Our runs the worker starts per second when no dispatcher is in the way.

    Runs enqueued straight from this process (`jobrun_enqueue`, as "Run now"
    does), a backlog kept: this tells the worker's run path from the dispatcher.
    """
    from jobruns.services import jobrun_enqueue

    clean_ours()
    purge_broker()
    schedule = Schedule.objects.create(
        name=f"{PREFIX}capacity", kind="interval", interval_hours=1,
        target="core.echo", overlap_policy="allow",
    )  # fmt: skip
    runs = JobRun.objects.filter(schedule_id=schedule.pk)
    began = time.time()
    sent = 0
    while time.time() < began + seconds:
        if sent - runs.filter(started_at__isnull=False).count() > 300:
            time.sleep(0.05)
            continue
        for _ in range(50):
            jobrun_enqueue(schedule=schedule, trigger="api", now=timezone.now())
            sent += 1
    since = datetime.fromtimestamp(began + WARM_UP, tz=UTC)
    until = datetime.fromtimestamp(began + seconds, tz=UTC)
    started = runs.filter(started_at__gte=since, started_at__lt=until).count()
    purge_broker()  # the backlog: its runs are deleted with the rest
    clean_ours()
    return started / (seconds - WARM_UP)


# --- ours ----------------------------------------------------------------------------
def clean_ours() -> None:
    JobRun.objects.filter(schedule_name__startswith=PREFIX).delete()
    Schedule.objects.filter(name__startswith=PREFIX).delete()


def run_ours(level: Level, *, count_seconds: float = 0.0) -> Level:
    """`level.schedules` staggered schedules in the real beat for `level.seconds`."""
    clean_ours()
    purge_broker()
    beat = start_beat(_common.OURS, "bench-beat-ours.log")
    try:
        _wait_beat_alive()
        begin = timezone.now() + timedelta(seconds=1)
        _create_schedules(level, begin)
        end = begin + timedelta(seconds=level.seconds)
        time.sleep(max(0.0, (end - timezone.now()).total_seconds()))
        # Pause before stopping beat: a beat killed between its commit and its
        # publish leaves runs queued until the reaper re-sends them (60 s).
        Schedule.objects.filter(name__startswith=PREFIX).update(is_paused=True)
        time.sleep(1.0)
        if beat.poll() is not None:
            sys.exit(f"our beat exited ({beat.returncode}): var/bench-beat-ours.log")
    finally:
        if beat.poll() is None:
            stop(beat)
    window = JobRun.objects.filter(
        schedule_name__startswith=PREFIX,
        scheduled_for__gte=begin,
        scheduled_for__lt=end,
    )
    _drain()
    _fill(level, window, begin, end)
    clean_ours()
    if count_seconds:
        level.per_fire = _count_dispatch_statements(level, count_seconds)
    return level


def _drain() -> None:
    """Wait (up to DRAIN_CAP) for the worker to finish the runs already queued."""
    busy = JobRun.objects.filter(
        schedule_name__startswith=PREFIX, status__in=["queued", "running"]
    )
    _common.wait_until(lambda: not busy.exists(), time.time() + DRAIN_CAP)


def _wait_beat_alive() -> None:
    alive = Path(settings.BEAT_ALIVE_FILE)
    since = time.time()
    ok = _common.wait_until(
        lambda: alive.exists() and alive.stat().st_mtime > since, since + 60, 0.1
    )
    if not ok:
        raise SystemExit("our beat did not start; see var/bench-beat-ours.log")


def _create_schedules(level: Level, begin: datetime) -> None:
    step = timedelta(seconds=level.every) / level.schedules
    Schedule.objects.bulk_create(
        (
            Schedule(
                name=f"{PREFIX}{i}",
                kind="interval",
                interval_seconds=level.every,
                start_at=begin + i * step,
                next_run_at=begin + i * step,
                target="core.echo",
                # Measure the dispatcher and the worker, not the overlap rule.
                overlap_policy="allow",
                created_at=begin,
            )
            for i in range(level.schedules)
        ),
        batch_size=2000,
    )


def _count_dispatch_statements(level: Level, seconds: float) -> float:
    """Statements per fire of beat's dispatch loop, run here on the same schedules."""
    purge_broker()
    _create_schedules(level, timezone.now() + timedelta(seconds=0.2))
    counter = _common.StatementCounter()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with counter.counting():
            wait = dispatch_tick()
        time.sleep(min(wait, max(0.0, deadline - time.monotonic())))
    Schedule.objects.filter(name__startswith=PREFIX).update(is_paused=True)
    fires = JobRun.objects.filter(schedule_name__startswith=PREFIX).count()
    purge_broker()
    clean_ours()
    return counter.count / max(1, fires)


def _fill(
    level: Level, window: QuerySet[JobRun], begin: datetime, end: datetime
) -> None:
    rows = list(
        window.values_list(
            "schedule_id",
            "scheduled_for",
            "status",
            "skipped_count",
            "started_at",
            "queued_at",
        )
    )
    runs = [r for r in rows if r[2] != "skipped"]
    level.fires = len(runs)
    level.dropped = sum(max(1, r[3]) for r in rows if r[2] == "skipped")
    pairs = collections.Counter((r[0], r[1]) for r in runs)
    level.duplicates = sum(n - 1 for n in pairs.values() if n > 1)
    started = [r[4] for r in runs if r[4] is not None]
    level.not_started = len(runs) - len(started)
    level.lags_ms = [(r[4] - r[1]).total_seconds() * 1000 for r in runs if r[4]]
    # queued_at is the dispatcher's `now` for the tick that made the run: this
    # part of the lag is the dispatcher's, the rest the broker's and worker's.
    level.queued_lags_ms = [(r[5] - r[1]).total_seconds() * 1000 for r in runs]
    counted_from = begin + timedelta(seconds=WARM_UP)
    in_window = [at for at in started if counted_from <= at < end]
    level.executed_per_s = len(in_window) / (level.seconds - WARM_UP)


# --- django-celery-beat --------------------------------------------------------------
def run_beat_precision(
    schedules: int, every: int, seconds: float, lead: float = 8.0
) -> Level:
    """`schedules` interval PeriodicTasks of bench.noop in django-celery-beat's beat."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask, PeriodicTasks

    level = Level("django-celery-beat", schedules, every, seconds)
    PeriodicTask.objects.filter(name__startswith=PREFIX).delete()
    purge_broker()
    interval, _ = IntervalSchedule.objects.get_or_create(every=every, period="seconds")
    begin = timezone.now() + timedelta(seconds=lead)  # beat's start-up under load
    step = timedelta(seconds=every) / schedules
    PeriodicTask.objects.bulk_create(
        PeriodicTask(
            name=f"{PREFIX}{i}",
            task="bench.noop",
            args=f'["{i}"]',
            interval=interval,
            queue="runs",
            # Due `every` after the last run: this staggers the first fires.
            last_run_at=begin + i * step - timedelta(seconds=every),
        )
        for i in range(schedules)
    )
    with _common.only_bench_periodic_tasks(PREFIX):
        PeriodicTasks.update_changed()
        beat = start_beat(_common.BEAT_PEER, "bench-beat-peer.log")
        try:
            end = begin + timedelta(seconds=seconds)
            time.sleep(max(0.0, (end - timezone.now()).total_seconds()))
        finally:
            stop(beat)
            PeriodicTask.objects.filter(name__startswith=PREFIX).delete()
    time.sleep(1)  # the last sends reach the worker
    by_task: dict[str, list[float]] = collections.defaultdict(list)
    for tag, at in _common.noop_starts():
        by_task[tag].append(at)
    for starts in by_task.values():
        starts.sort()
        level.lags_ms += [(b - a - every) * 1000 for a, b in itertools.pairwise(starts)]
    level.fires = sum(len(s) for s in by_task.values())
    purge_broker()
    return level


# --- the tables -----------------------------------------------------------------------
def print_sustained(capacity: float, run_path: float, levels: list[Level]) -> None:
    print(f"bare Celery capacity (bench.noop, same worker): {capacity:.0f} tasks/s")
    print(
        f"our run path's capacity (jobrun_enqueue from here, no dispatcher): "
        f"{run_path:.0f} runs/s ({run_path / capacity:.2f} of bare Celery)"
    )
    print()
    print(
        "| offered | schedules x every | offered runs/s | executed runs/s "
        "| ours / bare Celery | lag p50 ms | lag p99 ms | lag max ms "
        "| due to queued p99 ms | runs | not started | fires dropped | duplicates |"
    )
    print("| --- " * 13 + "|")
    for lv in levels:
        print(
            f"| {lv.label} | {lv.schedules} x {lv.every} s | {lv.offered_per_s:.0f} "
            f"| {lv.executed_per_s:.1f} | {lv.executed_per_s / capacity:.2f} "
            f"| {_lag_cells(lv)} | {ms(pct(lv.queued_lags_ms, 0.99))} "
            f"| {lv.fires} | {lv.not_started} | {lv.dropped} "
            f"| {lv.duplicates} |"
        )


def print_precision(ours: Level, peer: Level | None) -> None:
    print(
        "| system | schedules x every | fires | lag p50 ms | lag p99 ms | lag max ms "
        "| due to queued p50 / p99 ms | fires dropped | duplicates |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for lv, dupes in ((ours, str(ours.duplicates)), (peer, "-")):
        if lv is None:
            continue
        queued = lv.queued_lags_ms
        dispatch = f"{ms(pct(queued, 0.5))} / {ms(pct(queued, 0.99))}"
        print(
            f"| {lv.label} | {lv.schedules} x {lv.every} s | {lv.fires} "
            f"| {_lag_cells(lv)} | {dispatch} | {lv.dropped} | {dupes} |"
        )
    if peer is not None:
        ours_p99, peer_p99 = pct(ours.lags_ms, 0.99), pct(peer.lags_ms, 0.99)
        if ours_p99 and peer_p99:
            print()
            print(f"lag p99 django-celery-beat / ours: {peer_p99 / ours_p99:.2f}x")


def _lag_cells(level: Level) -> str:
    lags = level.lags_ms
    return " | ".join(
        [ms(pct(lags, 0.5)), ms(pct(lags, 0.99)), ms(max(lags) if lags else None)]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--precision-seconds", type=float, default=30.0)
    parser.add_argument("--precision-schedules", type=int, default=200)
    parser.add_argument("--precision-every", type=int, default=5)
    parser.add_argument("--levels", type=float, nargs="*", default=[0.25, 0.5, 1.0])
    parser.add_argument("--every", type=int, default=1, help="sustained interval, s")
    parser.add_argument("--no-beat", action="store_true")
    parser.add_argument(
        "--smoke", action="store_true", help="CI: one level, 20 schedules for 6 s"
    )
    args = parser.parse_args()
    if args.smoke:
        args.levels, args.precision_schedules = [0.25], 20
        args.precision_seconds = 6.0  # some of beat's tasks fire twice: a lag
    precision_seconds = args.precision_seconds
    call_command("migrate", verbosity=0)
    began = time.monotonic()
    clean_ours()
    worker = start_worker()
    try:
        capacity = measure_capacity(args.seconds)
        run_path = measure_run_path_capacity(args.seconds)
        levels = []
        for share in args.levels:
            n = max(1, round(capacity * share * args.every))
            level = Level(f"{share:.0%}", n, args.every, args.seconds)
            top = share == max(args.levels)
            counted = (1.0 if args.smoke else COUNT_SECONDS) if top else 0.0
            levels.append(run_ours(level, count_seconds=counted))
        every = args.precision_every
        precision = run_ours(
            Level("ours", args.precision_schedules, every, precision_seconds)
        )
        peer = None
        if not args.no_beat:
            peer = run_beat_precision(
                args.precision_schedules, every, precision_seconds,
                lead=4.0 if args.smoke else 8.0,
            )  # fmt: skip
        per_run = _common.statements_per_run(PREFIX)
    finally:
        stop(worker)
        clean_ours()
    print()
    print(f"## sustained ({args.seconds:.0f} s per level)")
    print_sustained(capacity, run_path, levels)
    print()
    print(f"## precision ({precision_seconds:.0f} s)")
    print_precision(precision, peer)
    print()
    for lv in (lv for lv in levels if lv.per_fire is not None):
        print(
            f"statements per fire (dispatch_tick at {lv.label}, idle ticks "
            f"included): {lv.per_fire:.2f}"
        )
    print(f"statements per run (worker path, core.echo): {per_run:.1f}")
    print(_common.machine_line(began))


if __name__ == "__main__":
    main()
