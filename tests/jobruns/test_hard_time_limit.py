"""Ignoring the soft time limit: timed_out at the hard limit, the log kept."""

from __future__ import annotations

import importlib
import time
from typing import Any

import pytest
from django.utils import timezone

from jobruns.models import JobRun
from jobruns.services import jobrun_enqueue

SERVICE_MODULE = "tests.support.stubborn_jobs"


@pytest.mark.requires_postgres
@pytest.mark.requires_redis
@pytest.mark.requires_worker
@pytest.mark.django_db(transaction=True)
def test_a_service_ignoring_the_soft_limit_ends_timed_out_at_the_hard_limit(
    start_worker: Any, settings: Any
) -> None:
    importlib.import_module(SERVICE_MODULE)  # registers the service here too
    settings.JOBRUN_HARD_LIMIT_GRACE_SECONDS = 2
    worker = start_worker(
        queues="runs",
        concurrency=1,
        extra_env={
            "SCHEDULER_SERVICE_MODULES": SERVICE_MODULE,
            "JOBRUN_HARD_LIMIT_GRACE_SECONDS": "2",
            "JOBRUN_HEARTBEAT_SECONDS": "1",
            # The reaper must not be what ends it: it would call it "worker lost".
            "JOBRUN_HEARTBEAT_TIMEOUT_SECONDS": "600",
        },
    )
    from schedules.services import schedule_create

    schedule = schedule_create(
        data={"name": "stubborn", "kind": "interval", "interval_hours": 1,
              "target": "tests.ignores_soft_limit", "time_limit_seconds": 1},
        by=None, now=timezone.now(),
    )  # fmt: skip
    run = jobrun_enqueue(schedule=schedule, trigger="manual", now=timezone.now())

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status not in {JobRun.Status.QUEUED, JobRun.Status.IN_PROGRESS}:
            break
        time.sleep(0.2)

    assert run.status == JobRun.Status.TIMED_OUT, (run.status, worker.log())
    assert "hard limit of 3 s" in run.error
    assert "started the long part" in run.log
    assert "soft time limit reached; carrying on anyway" in run.log
    assert run.log.endswith(run.error)
    assert "Hard time limit (3" in worker.log()
    # It ended at the hard limit, not when a reaper noticed a silent worker.
    assert (run.finished_at - run.started_at).total_seconds() < 10


@pytest.mark.requires_postgres
@pytest.mark.requires_redis
@pytest.mark.requires_worker
@pytest.mark.django_db(transaction=True)
def test_a_stubborn_run_killed_in_a_message_of_several_does_not_strand_the_rest(
    start_worker: Any, settings: Any
) -> None:
    from datetime import timedelta

    from jobruns.dispatcher import dispatch_due
    from schedules.models import Schedule
    from schedules.services import schedule_create

    importlib.import_module(SERVICE_MODULE)
    settings.JOBRUN_HARD_LIMIT_GRACE_SECONDS = 2
    settings.JOBRUN_MESSAGE_SLICE_SECONDS = 1
    worker = start_worker(
        queues="runs",
        concurrency=1,
        extra_env={
            "SCHEDULER_SERVICE_MODULES": SERVICE_MODULE,
            "JOBRUN_HARD_LIMIT_GRACE_SECONDS": "2",
            "JOBRUN_MESSAGE_SLICE_SECONDS": "1",
            "JOBRUN_HEARTBEAT_SECONDS": "1",
            "JOBRUN_HEARTBEAT_TIMEOUT_SECONDS": "600",
        },
    )
    now = timezone.now()
    # The stubborn run first in the message (due earlier), the quick one behind.
    made = [
        schedule_create(
            data={
                "name": name,
                "kind": "interval",
                "interval_hours": 1,
                "start_at": now - timedelta(seconds=offset),
                "target": target,
                "time_limit_seconds": 1,
            },
            by=None,
            now=now,
            allow_past=True,
        )
        for name, target, offset in (
            ("stubborn", "tests.ignores_soft_limit", 2),
            ("quick", "core.echo", 1),
        )
    ]
    for schedule in made:
        Schedule.objects.filter(pk=schedule.pk).update(next_run_at=schedule.start_at)

    assert dispatch_due(now=timezone.now()) == 2

    stubborn, quick = (JobRun.objects.get(schedule=schedule) for schedule in made)
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        statuses = list(
            JobRun.objects.filter(pk__in=[stubborn.pk, quick.pk])
            .order_by("pk")
            .values_list("status", flat=True)
        )
        if statuses == [JobRun.Status.TIMED_OUT, JobRun.Status.SUCCEEDED]:
            break
        time.sleep(0.2)
    stubborn.refresh_from_db()
    quick.refresh_from_db()
    assert (stubborn.status, quick.status) == (
        JobRun.Status.TIMED_OUT,
        JobRun.Status.SUCCEEDED,
    ), worker.log()
    assert "killed at the hard limit" in stubborn.error
    # The quick run was sent again by the parent that killed the message, at
    # once (the reaper would have waited JOBRUN_REQUEUE_AFTER_SECONDS).
    assert quick.started_at > stubborn.finished_at
    assert quick.celery_task_id != stubborn.celery_task_id
