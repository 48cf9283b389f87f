"""Scale-out: 1 vs 2 dispatchers creating a burst, 1/2/4 worker slots executing one.

Runs against the configured database and broker; give it a SCRATCH database
(it migrates it and deletes what it made) and a broker nobody else consumes:

    DATABASE_URL=postgres://.../scratch CELERY_BROKER_URL=redis://... \\
        python bench/scale_bench.py --schedules 20000 --runs 2000

(a) Dispatch side: N interval schedules due at once, then `dispatch_due` in one
    process vs two processes started together (each its own interpreter and
    database connection, as two beats would be). Twice: with publishing mocked
    out (`jobruns.services._publish`: the database side alone) and publishing
    to the configured broker (nobody consumes it; the queue is purged after).
    The children run with SCHEDULER_ON_TIME_SECONDS=3600 so the seconds between
    seeding and the go signal never make a fire "late": every fire is planned
    on the on-time path, as in a burst dispatched as it falls due.
    Printed: runs created per second, the ratio 2 / 1, statements per fire, and
    duplicates (JobRun rows minus distinct (schedule, scheduled_for); must be 0)
    and missing fires (schedules without a row; must be 0).

(b) Worker side: M runs (M interval schedules due at T, dispatched in this
    process with real publishing, JOBRUN_RUNS_PER_MESSAGE per message) executed
    by `celery worker` layouts: one process with --concurrency 1, 2, 4 and two
    processes with --concurrency 2 (as two hosts would be). Bare Celery sends M
    no-op tasks (one message each) to the same layout in the same run.
    Printed: runs/s from T to the last run finished (ours) / started (the no-op),
    the ratio to 1 slot, ours / bare Celery at each layout, and the share of the
    machine's cores busy meanwhile (all processes: a full machine is the limit).

Throughput beyond 2 busy processes is bounded by the machine's cores: the
worker processes, PostgreSQL, Redis and this script share them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import _common  # first: it sets Django up

# isort: split
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.db.models import Max
from django.utils import timezone

from bench._common import (
    broker_redis,
    noop_started_key,
    purge_broker,
    seed_due_schedules,
    stop,
)
from jobruns.dispatcher import dispatch_due
from jobruns.models import JobRun
from schedules.models import Schedule

PREFIX = "bench.scale-"
LEAD_SECONDS = 3.0  # worker side: T is this far ahead of seeding
GO_SECONDS = 0.5  # dispatch side: the go time is this far ahead of "all ready"


# --- seeding and cleaning ------------------------------------------------------------
def seed(size: int, due: datetime) -> None:
    seed_due_schedules(PREFIX, size, due)


def clean() -> None:
    JobRun.objects.filter(schedule_name__startswith=PREFIX).delete()
    Schedule.objects.filter(name__startswith=PREFIX).delete()


# --- (a) dispatch side: the child process -------------------------------------------
def dispatch_child(publish: str) -> None:
    """One dispatcher: says READY, reads the go time, dispatches, prints JSON."""
    connection.ensure_connection()  # connecting is start-up, not dispatching
    print("READY", flush=True)
    go = float(sys.stdin.readline())
    time.sleep(max(0.0, go - time.time()))
    counter = _common.StatementCounter()
    publishing = mock.patch("jobruns.services._publish") if publish == "mock" else None
    if publishing:
        publishing.start()
    with counter.counting():
        made = dispatch_due(now=timezone.now())
    ended = time.time()
    if publishing:
        publishing.stop()
    print(json.dumps({"made": made, "ended": ended, "statements": counter.count}))


# --- (a) dispatch side: the parent -------------------------------------------------
@dataclass
class DispatchRow:
    round: int
    publish: str
    dispatchers: int
    size: int
    made: int
    seconds: float
    statements: int
    duplicates: int
    missing: int

    @property
    def per_second(self) -> float:
        return self.made / self.seconds if self.seconds else float("nan")


def run_dispatchers(
    size: int, dispatchers: int, publish: str, round_: int
) -> DispatchRow:
    clean()
    purge_broker()
    seed(size, timezone.now())
    children = [_spawn_dispatcher(publish) for _ in range(dispatchers)]
    for child in children:
        assert child.stdout is not None
        if child.stdout.readline().strip() != "READY":
            raise SystemExit("a dispatcher child did not start; see its stderr")
    go = time.time() + GO_SECONDS
    for child in children:
        assert child.stdin is not None
        child.stdin.write(f"{go}\n")
        child.stdin.flush()
    results = [_child_result(child) for child in children]
    purge_broker()
    duplicates, missing = _fire_integrity(size)
    return DispatchRow(
        round=round_,
        publish=publish,
        dispatchers=dispatchers,
        size=size,
        made=sum(r["made"] for r in results),
        seconds=max(r["ended"] for r in results) - go,
        statements=sum(r["statements"] for r in results),
        duplicates=duplicates,
        missing=missing,
    )


def _spawn_dispatcher(publish: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PYTHONPATH": _common.pythonpath(),
        "SCHEDULER_ON_TIME_SECONDS": "3600",
    }
    return subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--dispatch-child", publish],
        env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip


def _child_result(child: subprocess.Popen[str]) -> dict[str, Any]:
    out, _ = child.communicate(timeout=600)
    if child.returncode != 0:
        raise SystemExit(f"a dispatcher child failed ({child.returncode})")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def _fire_integrity(size: int) -> tuple[int, int]:
    """(rows beyond one per (schedule, fire), schedules without a row)."""
    rows = JobRun.objects.filter(schedule_name__startswith=PREFIX)
    total = rows.count()
    distinct = rows.values("schedule_id", "scheduled_for").distinct().count()
    fired = rows.values("schedule_id").distinct().count()
    return total - distinct, size - fired


def print_dispatch(rows: list[DispatchRow]) -> None:
    print(
        "| round | publishing | dispatchers | due schedules | runs created | seconds "
        "| runs/s | vs 1 dispatcher | statements per fire | duplicates | missing |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    # The ratio is taken within a round: 1 then 2 dispatchers, back to back.
    single = {(r.round, r.publish): r.per_second for r in rows if r.dispatchers == 1}
    for r in rows:
        base = single.get((r.round, r.publish))
        ratio = f"{r.per_second / base:.2f}x" if base else "-"
        per_fire = r.statements / r.made if r.made else float("nan")
        label = "mocked (database only)" if r.publish == "mock" else "to Redis"
        print(
            f"| {r.round} | {label} | {r.dispatchers} | {r.size:,} | {r.made:,} "
            f"| {r.seconds:.2f} | {r.per_second:,.0f} | {ratio} | {per_fire:.3f} "
            f"| {r.duplicates} | {r.missing} |"
        )


# --- (b) worker side -----------------------------------------------------------------
def cpu_sample() -> tuple[int, int] | None:
    """(busy, total) jiffies of the whole machine since boot (Linux /proc/stat)."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split()[1:9]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def cpu_busy(before: tuple[int, int] | None) -> float | None:
    """Share of all cores busy since `before` (every process, other users too)."""
    after = cpu_sample()
    if before is None or after is None or after[1] == before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1])


@dataclass
class WorkerRow:
    layout: str
    slots: int
    size: int
    ours: float | None  # seconds from T to the last run finished
    bare: float | None  # seconds from T to the last no-op started
    ours_done: int
    bare_done: int
    ours_cpu: float | None  # share of the machine's cores busy meanwhile
    bare_cpu: float | None


def start_layout(processes: int, concurrency: int) -> list[subprocess.Popen[bytes]]:
    workers: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(processes):
            workers.append(_common.start_worker(concurrency=concurrency))
    except BaseException:
        for worker in workers:
            stop(worker)
        raise
    return workers


def run_ours(size: int, cap: float) -> tuple[float | None, int]:
    clean()
    purge_broker()
    due = timezone.now() + timedelta(seconds=LEAD_SECONDS)
    seed(size, due)
    time.sleep(max(0.0, (due - timezone.now()).total_seconds()))
    dispatch_due(now=timezone.now())
    finished = JobRun.objects.filter(
        schedule_name__startswith=PREFIX, finished_at__isnull=False
    )
    _common.wait_until(lambda: finished.count() >= size, due.timestamp() + cap)
    done = finished.count()
    last = finished.aggregate(last=Max("finished_at"))["last"]
    if done < size or last is None:
        return None, done
    return (last - due).total_seconds(), done


def run_bare(size: int, cap: float) -> tuple[float | None, int]:
    from bench.noop_task import noop

    purge_broker()
    began = time.time()
    with noop.app.producer_or_acquire() as producer:
        for i in range(size):
            noop.apply_async(args=[str(i)], queue="runs", producer=producer)
    started = broker_redis()
    _common.wait_until(lambda: started.llen(noop_started_key()) >= size, began + cap)
    starts = _common.noop_starts()
    if len(starts) < size:
        return None, len(starts)
    return max(at for _, at in starts) - began, len(starts)


def run_layout(layout: str, size: int, cap: float) -> WorkerRow:
    processes, concurrency = _parse_layout(layout)
    workers = start_layout(processes, concurrency)
    try:
        before = cpu_sample()
        ours, ours_done = run_ours(size, cap)
        ours_cpu = cpu_busy(before)
        before = cpu_sample()
        bare, bare_done = run_bare(size, cap)
        bare_cpu = cpu_busy(before)
    finally:
        for worker in workers:
            stop(worker)
    return WorkerRow(
        layout, processes * concurrency, size, ours, bare,
        ours_done, bare_done, ours_cpu, bare_cpu,
    )  # fmt: skip


def _parse_layout(layout: str) -> tuple[int, int]:
    """Layout "4": one worker process with 4 slots; "2x2": two with 2 each."""
    processes, _, concurrency = layout.rpartition("x")
    return int(processes or 1), int(concurrency)


def _rate(size: int, seconds: float | None) -> float | None:
    return size / seconds if seconds else None


def _num(value: float | None, done: int) -> str:
    return f"{value:,.0f}" if value is not None else f"> cap ({done:,} done)"


def print_workers(rows: list[WorkerRow]) -> None:
    print(
        "| worker layout | slots | runs | ours runs/s | vs 1 slot | CPU busy "
        "| bare Celery no-op/s | vs 1 slot | CPU busy | ours / bare |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    first = rows[0]
    ours_1 = _rate(first.size, first.ours)
    bare_1 = _rate(first.size, first.bare)
    for r in rows:
        ours = _rate(r.size, r.ours)
        bare = _rate(r.size, r.bare)
        print(
            f"| {_describe(r.layout)} | {r.slots} | {r.size:,} "
            f"| {_num(ours, r.ours_done)} | {_ratio(ours, ours_1)} "
            f"| {_pct(r.ours_cpu)} "
            f"| {_num(bare, r.bare_done)} | {_ratio(bare, bare_1)} "
            f"| {_pct(r.bare_cpu)} "
            f"| {_ratio(ours, bare)} |"
        )


def _pct(share: float | None) -> str:
    return "-" if share is None else f"{share:.0%}"


def _describe(layout: str) -> str:
    processes, concurrency = _parse_layout(layout)
    noun = "process" if processes == 1 else "processes"
    return f"{processes} {noun} x --concurrency {concurrency}"


def _ratio(value: float | None, base: float | None) -> str:
    if value is None or not base:
        return "-"
    return f"{value / base:.2f}x"


# --- main ----------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--schedules", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=2_000)
    parser.add_argument(
        "--layouts", default="1,2,4,2x2", help='"" for the dispatch side only'
    )
    parser.add_argument("--repeat", type=int, default=1, help="dispatch rounds")
    parser.add_argument("--publishing", default="mock,broker", help="mock, broker")
    parser.add_argument("--cap", type=float, default=300.0)
    parser.add_argument("--dispatch-child", choices=["mock", "broker"])
    args = parser.parse_args()
    if args.dispatch_child:
        dispatch_child(args.dispatch_child)
        return
    call_command("migrate", verbosity=0)
    began = time.monotonic()
    try:
        dispatch = [
            run_dispatchers(args.schedules, n, publish, round_ + 1)
            for round_ in range(args.repeat)
            for publish in args.publishing.split(",")
            for n in (1, 2)
        ]
        workers = [
            run_layout(layout, args.runs, args.cap)
            for layout in args.layouts.split(",")
            if layout
        ]
        per_run = _common.statements_per_run(PREFIX, bundled=True)
    finally:
        clean()
        purge_broker()
    print_dispatch(dispatch)
    print()
    if workers:
        print_workers(workers)
        print()
    print(f"statements per run (worker path, core.echo, message of 20): {per_run:.1f}")
    print(
        f"(batch {settings.SCHEDULER_DISPATCH_BATCH_SIZE}, "
        f"{settings.JOBRUN_RUNS_PER_MESSAGE} runs per message; "
        f"{os.cpu_count()} cores shared by workers, PostgreSQL, Redis and this script)"
    )
    print(_common.machine_line(began))


if __name__ == "__main__":
    main()
