"""Runs executed by real Celery workers through Redis on PostgreSQL.

The dispatcher runs in a thread of the test process (as it does inside beat),
the workers are real `celery worker` processes on the test database.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.db import connections
from django.utils import timezone

from jobruns.dispatcher import dispatch_due
from jobruns.models import JobRun
from jobruns.services import (
    jobrun_cancel,
    jobrun_enqueue,
    jobrun_reap_lost,
    jobrun_requeue_stale,
)
from jobruns.tasks import execute_run
from schedules.models import Schedule
from schedules.services import schedule_create
from tests.support.services import wait_for

Status = JobRun.Status
FAST_HEARTBEAT = {"JOBRUN_HEARTBEAT_SECONDS": "1"}


def _schedule(name: str, **fields: Any) -> Schedule:
    data: dict[str, Any] = {
        "name": name,
        "kind": "interval",
        "interval_hours": 1,
        "target": "core.echo",
    }
    data.update(fields)
    return schedule_create(data=data, by=None, now=timezone.now())


def _status(run: JobRun) -> str:
    return JobRun.objects.values_list("status", flat=True).get(pk=run.pk)


@pytest.mark.requires_postgres
@pytest.mark.requires_redis
@pytest.mark.requires_worker
@pytest.mark.django_db(transaction=True)
def test_a_two_second_interval_runs_on_time_on_a_real_worker(
    celery_worker: Any, dispatcher: Callable[[], None], settings: Any
) -> None:
    settings.SCHEDULER_DISPATCH_MAX_SLEEP_MS = 100
    start = timezone.now().replace(microsecond=0) + timedelta(seconds=2)
    schedule = _schedule(
        "every-2s", interval_hours=0, interval_seconds=2, start_at=start
    )
    dispatcher()

    wait_for(
        lambda: schedule.runs.filter(status=Status.SUCCEEDED).count() >= 4,
        timeout=20,
        what="four runs",
    )

    runs = list(schedule.runs.filter(status=Status.SUCCEEDED).order_by("pk")[:4])
    assert [run.scheduled_for for run in runs] == [
        start + timedelta(seconds=2 * k) for k in range(4)
    ]
    assert {run.worker for run in runs} == {celery_worker.hostname}
    lateness = [(run.started_at - run.scheduled_for).total_seconds() for run in runs]
    assert max(lateness) < 1.0, lateness
    assert (
        not schedule.runs.exclude(status=Status.SUCCEEDED)
        .exclude(status__in=JobRun.ACTIVE)
        .exists()
    )


@pytest.mark.requires_postgres
@pytest.mark.requires_redis
@pytest.mark.requires_worker
@pytest.mark.django_db(transaction=True)
def test_run_now_passes_args_input_and_extra_to_the_service(celery_worker: Any) -> None:
    schedule = _schedule("echo-now", input={"who": "ops"}, extra="mode=full")

    run = jobrun_enqueue(
        schedule=schedule, trigger="manual", args=["a", "b"], now=timezone.now()
    )

    wait_for(lambda: _status(run) == Status.SUCCEEDED, 20, "the run")
    run.refresh_from_db()
    assert run.output == {
        "input": {"who": "ops"},
        "args": ["a", "b"],
        "extra": "mode=full",
    }
    assert "echo with 2 args" in run.log


@pytest.mark.requires_postgres
@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_over_500_due_schedules_never_duplicate_a_fire() -> None:
    now = timezone.now()
    Schedule.objects.bulk_create(
        Schedule(
            name=f"load-{i}",
            kind="interval",
            interval_seconds=1,
            start_at=now - timedelta(seconds=1),
            target="core.echo",
            overlap_policy="allow",
            next_run_at=now - timedelta(seconds=1),
        )
        for i in range(500)
    )
    made: collections.Counter[str] = collections.Counter()
    stop = threading.Event()

    def dispatch(name: str) -> None:
        try:
            while not stop.is_set():
                made[name] += dispatch_due(now=timezone.now(), batch_size=50)
        finally:
            connections["default"].close()

    with (
        mock.patch("jobruns.tasks.execute_run.apply_async"),
        mock.patch("jobruns.tasks.execute_runs.apply_async"),
    ):
        threads = [
            threading.Thread(target=dispatch, args=(name,)) for name in ("a", "b")
        ]
        for thread in threads:
            thread.start()
        time.sleep(3)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)

    fires = list(
        JobRun.objects.filter(trigger__in=JobRun.FIRE_TRIGGERS).values_list(
            "schedule_id", "scheduled_for"
        )
    )
    duplicates = [key for key, n in collections.Counter(fires).items() if n > 1]
    assert duplicates == []
    assert made["a"] > 0, made
    assert made["b"] > 0, made
    assert len(fires) >= 500 * 2, "each schedule fired at least at start and +1 s"


@pytest.mark.requires_postgres
@pytest.mark.requires_redis
@pytest.mark.requires_worker
@pytest.mark.django_db(transaction=True)
def test_a_run_on_a_killed_worker_ends_worker_lost_and_is_retried(
    start_worker: Any, settings: Any
) -> None:
    settings.JOBRUN_HEARTBEAT_TIMEOUT_SECONDS = 3
    worker = start_worker(extra_env=FAST_HEARTBEAT)
    schedule = _schedule(
        "sleepy",
        target="core.sleep",
        input={"seconds": 3},
        max_retries=1,
        retry_delay_seconds=1,
    )
    run = jobrun_enqueue(schedule=schedule, trigger="manual", now=timezone.now())
    wait_for(lambda: _status(run) == Status.IN_PROGRESS, 20, "the run to start")

    worker.kill()
    killed_at = time.monotonic()
    wait_for(
        lambda: (
            jobrun_reap_lost(now=timezone.now()) > 0 or _status(run) != "in_progress"
        ),
        timeout=10,
        what="the reaper",
    )

    run.refresh_from_db()
    assert run.status == Status.FAILED
    assert run.error.startswith("worker lost")
    assert time.monotonic() - killed_at < 3 + 2 + 1
    retry = JobRun.objects.get(retry_of=run)
    assert (retry.attempt, retry.status) == (2, Status.QUEUED)

    start_worker(extra_env=FAST_HEARTBEAT)
    wait_for(lambda: _status(retry) == Status.SUCCEEDED, 30, "the retry")


@pytest.mark.requires_postgres
@pytest.mark.requires_redis
@pytest.mark.requires_worker
@pytest.mark.django_db(transaction=True)
def test_runs_lost_with_a_flushed_broker_are_resent_and_run_exactly_once(
    start_worker: Any,
) -> None:
    import redis
    from django.conf import settings

    runs = [
        jobrun_enqueue(
            service="core.echo", trigger="api", args=[str(i)], now=timezone.now()
        )
        for i in range(3)
    ]
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    worker = start_worker()
    time.sleep(1.5)
    assert {_status(run) for run in runs} == {Status.QUEUED}, "the messages are gone"

    assert jobrun_requeue_stale(now=timezone.now(), older_than=0) == 3
    wait_for(
        lambda: all(_status(run) == Status.SUCCEEDED for run in runs), 20, "the runs"
    )
    # A late duplicate of each message (a second reaper, a redelivery) is absorbed
    # by the claim: the service does not run again.
    for run in runs:
        execute_run.apply_async(args=[run.pk], task_id=run.celery_task_id)
    time.sleep(1.5)

    log = worker.log_path.read_text()
    for run in runs:
        assert log.count(f"run {run.pk} started:") == 1, log[-3000:]


@pytest.mark.requires_postgres
@pytest.mark.requires_redis
@pytest.mark.requires_worker
@pytest.mark.django_db(transaction=True)
def test_queue_one_waits_for_the_running_run_and_allow_runs_in_parallel(
    start_worker: Any,
) -> None:
    start_worker(concurrency=4)
    now = timezone.now
    one = _schedule("one", target="core.sleep", input={"seconds": 1.5},
                    overlap_policy="queue_one")  # fmt: skip
    many = _schedule("many", target="core.sleep", input={"seconds": 1.5},
                     overlap_policy="allow")  # fmt: skip

    first = jobrun_enqueue(schedule=one, trigger="manual", now=now())
    wait_for(lambda: _status(first) == Status.IN_PROGRESS, 20, "the first run")
    second = jobrun_enqueue(schedule=one, trigger="manual", now=now())
    parallel = [
        jobrun_enqueue(schedule=many, trigger="manual", now=now()) for _ in range(2)
    ]

    every = [first, second, *parallel]
    wait_for(
        lambda: all(_status(run) == Status.SUCCEEDED for run in every), 30, "all runs"
    )
    for run in every:
        run.refresh_from_db()
    assert second.started_at >= first.finished_at, "queue_one never overlaps"
    a, b = parallel
    assert a.started_at < b.finished_at, "allow overlaps"
    assert b.started_at < a.finished_at, "allow overlaps"


@pytest.mark.requires_postgres
@pytest.mark.requires_redis
@pytest.mark.requires_worker
@pytest.mark.django_db(transaction=True)
def test_a_running_run_is_cancelled_by_revoke_and_a_slow_one_times_out(
    celery_worker: Any,
) -> None:
    slow = _schedule("slow", target="core.sleep", input={"seconds": 30},
                     time_limit_seconds=1)  # fmt: skip
    long = _schedule("long", target="core.sleep", input={"seconds": 30})
    timed = jobrun_enqueue(schedule=slow, trigger="manual", now=timezone.now())
    running = jobrun_enqueue(schedule=long, trigger="manual", now=timezone.now())
    wait_for(lambda: _status(running) == Status.IN_PROGRESS, 20, "the long run")

    assert jobrun_cancel(run=running, by="ops", now=timezone.now())

    wait_for(lambda: _status(timed) == Status.TIMED_OUT, 20, "the soft time limit")
    timed.refresh_from_db()
    assert timed.error == "time limit of 1 s exceeded"
    # The revoked task's process is gone: its run never turns succeeded.
    wait_for(lambda: "Terminating" in celery_worker.log(), 10, "the revoke")
    assert _status(running) == Status.CANCELLED


@pytest.mark.requires_postgres
@pytest.mark.requires_redis
@pytest.mark.requires_worker
@pytest.mark.django_db(transaction=True)
def test_with_every_slot_busy_a_killed_workers_runs_are_found_lost_in_time(
    start_worker: Any, settings: Any, dispatcher: Callable[[], None]
) -> None:
    from core.models import WorkerHeartbeat

    timeout = 3
    settings.JOBRUN_HEARTBEAT_TIMEOUT_SECONDS = timeout
    settings.JOBRUN_REAP_SECONDS = 1
    worker = start_worker(
        concurrency=2, extra_env={**FAST_HEARTBEAT, "WORKER_HEARTBEAT_SECONDS": "1"}
    )
    runs = [
        jobrun_enqueue(
            service="core.sleep",
            input_override={"seconds": 600},
            trigger="api",
            now=timezone.now(),
        )
        for _ in range(2)
    ]
    wait_for(
        lambda: all(_status(run) == Status.IN_PROGRESS for run in runs),
        30,
        "both slots to run a long run",
    )
    busy_since = timezone.now()
    wait_for(
        lambda: WorkerHeartbeat.objects.filter(
            hostname=worker.hostname, seen_at__gt=busy_since
        ).exists(),
        10,
        "the worker's own heartbeat while every slot is busy",
    )
    dispatcher()  # the reaper runs in the dispatcher's loop, as inside beat

    worker.kill()
    killed_at = time.monotonic()
    wait_for(
        lambda: all(_status(run) == Status.FAILED for run in runs),
        timeout + 10,
        "the reaper in the dispatcher to find both runs lost",
    )

    assert time.monotonic() - killed_at < timeout + 10
    for run in runs:
        run.refresh_from_db()
        assert run.error.startswith("worker lost"), run.error


@pytest.mark.requires_postgres
@pytest.mark.requires_redis
@pytest.mark.django_db(transaction=True)
def test_the_reaper_re_sends_only_runs_whose_message_the_broker_lost() -> None:
    app = execute_run.app
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(app.conf.task_default_queue)
    waiting = [
        jobrun_enqueue(service="core.echo", trigger="api", now=timezone.now())
        for _ in range(3)
    ]
    # No worker: the three messages wait in the queue, their runs look stale.
    long_ago = timezone.now() - timedelta(hours=1)
    JobRun.objects.filter(pk__in=[r.pk for r in waiting]).update(sent_at=long_ago)

    assert jobrun_requeue_stale(now=timezone.now()) == 0, "a backlog is not a loss"

    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(app.conf.task_default_queue)  # lost
    assert jobrun_requeue_stale(now=timezone.now()) == 3
    with app.connection_for_write() as conn:
        assert conn.default_channel.queue_purge(app.conf.task_default_queue) == 3
