"""What the benchmarks share: Django set-up, the worker, beat, the broker, counting.

Importing this module sets Django up, so a benchmark script puts the checkout
on sys.path and imports it before anything from the project:

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench import _common  # noqa: E402  (sets Django up)

BENCH_ROOT measures another checkout (the "before" figures) with these benches.
"""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent.parent
ROOT = Path(os.environ.get("BENCH_ROOT", HERE))
sys.path[:0] = [str(ROOT), str(HERE)]
os.chdir(ROOT)  # Celery puts the working directory first on sys.path
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scheduler_site.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

BEAT_PEER = "django_celery_beat.schedulers:DatabaseScheduler"
OURS = "jobruns.beat:DispatchingScheduler"


# --- processes ---------------------------------------------------------------------
def pythonpath() -> str:
    # `bench` must be this package even when BENCH_ROOT points at a checkout
    # without it: a regular package wins over a folder without __init__.py.
    return os.pathsep.join([str(ROOT), str(HERE)])


def start_worker(queue: str = "runs", concurrency: int = 2) -> subprocess.Popen[bytes]:
    """One real worker (prefork) that also runs the peers' `bench.noop`."""
    from core.models import WorkerHeartbeat

    hostname = f"bench-{uuid.uuid4().hex[:6]}@{platform.node()}"
    worker = _spawn(
        ["worker", "--hostname", hostname, "-Q", queue, "--pool", "prefork",
         "--concurrency", str(concurrency), "--loglevel", "WARNING",
         "--without-gossip", "--without-mingle", "-I", "bench.noop_task"],
        "bench-worker.log",
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not WorkerHeartbeat.objects.filter(hostname=hostname).exists():
        if time.monotonic() > deadline or worker.poll() is not None:
            raise SystemExit("the benchmark worker did not start; see its log")
        time.sleep(0.2)
    return worker


def start_beat(
    scheduler: str, log_name: str = "bench-beat.log", max_interval: int = 1
) -> subprocess.Popen[bytes]:
    """`celery beat` with `scheduler` (ours or django-celery-beat's)."""
    schedule_file = Path(settings.VAR_DIR) / f"bench-beat-{uuid.uuid4().hex[:6]}"
    return _spawn(
        ["beat", "--scheduler", scheduler, "--loglevel", "WARNING",
         "--max-interval", str(max_interval), "-s", str(schedule_file)],
        log_name,
    )  # fmt: skip


def _spawn(args: list[str], log_name: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": pythonpath()}
    log = (Path(settings.VAR_DIR) / log_name).open("ab")  # one run's starts, all kept
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "scheduler_site", *args],
        cwd=ROOT, env=env, start_new_session=True, stdout=log, stderr=log,
    )  # fmt: skip


def stop(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, 15)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.wait()


# --- the broker and the peers' no-op -------------------------------------------------
def broker_redis() -> Any:
    import redis

    return redis.Redis.from_url(settings.CELERY_BROKER_URL)


def noop_started_key() -> str:
    from bench.noop_task import STARTED

    return STARTED


def purge_broker(queue: str = "runs") -> None:
    """Empty `queue` and the no-op's start records."""
    from scheduler_site.celery import app

    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(queue)
    broker_redis().delete(noop_started_key())


def noop_starts() -> list[tuple[str, float]]:
    """(tag, start time) of every `bench.noop` started since the last purge."""
    raw = broker_redis().lrange(noop_started_key(), 0, -1)
    entries = [item.decode().split() for item in raw]
    return [(tag, float(at)) for tag, at in entries]


@contextlib.contextmanager
def only_bench_periodic_tasks(prefix: str) -> Iterator[None]:
    """Disable the project's PeriodicTasks meanwhile: a peer beat sends ours only."""
    from django_celery_beat.models import PeriodicTask, PeriodicTasks

    others = list(
        PeriodicTask.objects.exclude(name__startswith=prefix)
        .filter(enabled=True)
        .values_list("pk", flat=True)
    )
    PeriodicTask.objects.filter(pk__in=others).update(enabled=False)
    PeriodicTasks.update_changed()
    try:
        yield
    finally:
        PeriodicTask.objects.filter(pk__in=others).update(enabled=True)
        PeriodicTasks.update_changed()


# --- counting and figures ------------------------------------------------------------
class StatementCounter:
    """Counts the SQL statements this process's connection runs inside `counting()`."""

    def __init__(self) -> None:
        self.count = 0

    def _wrap(self, execute: Any, sql: str, params: Any, many: bool, ctx: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, ctx)

    @contextlib.contextmanager
    def counting(self) -> Iterator[None]:
        with connection.execute_wrapper(self._wrap):
            yield


def statements_per_run(prefix: str, count: int = 20, *, bundled: bool = False) -> float:
    """The worker's path (claim, run core.echo, finish) in this process.

    Per run sent alone (`jobruns.execute_run`), or with `bundled` per run of one
    message of `count` runs (`jobruns.execute_runs`, what the dispatcher sends;
    NaN on a checkout from before bundled messages).
    """
    from unittest import mock

    from django.test.utils import CaptureQueriesContext

    from jobruns import services
    from jobruns.models import JobRun
    from jobruns.services import jobrun_enqueue, jobrun_execute
    from schedules.models import Schedule

    if bundled and not hasattr(services, "jobrun_execute_many"):
        return float("nan")
    schedule = Schedule.objects.create(
        name=f"{prefix}per-run", kind="interval", interval_hours=1,
        target="core.echo", overlap_policy="allow",
    )  # fmt: skip
    with mock.patch("jobruns.tasks.execute_run.apply_async"):
        ids = [
            jobrun_enqueue(schedule=schedule, trigger="api", now=timezone.now()).pk
            for _ in range(count)
        ]
    control = ("SAVEPOINT", "RELEASE SAVEPOINT", "BEGIN", "COMMIT")
    with CaptureQueriesContext(connection) as queries:
        if bundled:
            services.jobrun_execute_many(run_ids=ids, worker="bench", task_id="bench")
        else:
            for run_id in ids:
                jobrun_execute(run_id=run_id, worker="bench")
    total = sum(not q["sql"].startswith(control) for q in queries.captured_queries)
    JobRun.objects.filter(schedule_id=schedule.pk).delete()
    schedule.delete()
    return total / count


def seed_due_schedules(prefix: str, size: int, due: datetime) -> None:
    """`size` hourly schedules of core.echo, each first due at `due`."""
    from schedules.models import Schedule

    Schedule.objects.bulk_create(
        (
            Schedule(
                name=f"{prefix}{i}",
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


def seconds(value: timedelta | float) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def wait_until(done: Callable[[], bool], deadline: float, poll: float = 0.25) -> bool:
    """Poll `done` until it holds or time.time() passes `deadline`."""
    while time.time() < deadline:
        if done():
            return True
        time.sleep(poll)
    return done()


def pct(values: list[float], q: float) -> float | None:
    """The q-quantile (0..1) of `values` by nearest rank; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def ms(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def machine_line(began: float) -> str:
    """Versions, cores, load and the time, for the line under a table."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"({time.monotonic() - began:.0f} s; {connection.vendor} "
        f"{getattr(connection, 'pg_version', '')}, "
        f"Python {platform.python_version()}, Django {django.get_version()}, "
        f"{os.cpu_count()} cores, load {load}, "
        f"measured {timezone.now():%Y-%m-%d %H:%M} UTC)"
    )
