"""A real worker consumes tasks sent through the broker and writes to the database."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from core.models import WorkerHeartbeat
from core.tasks import worker_heartbeat
from jobruns.models import JobRun
from jobruns.services import jobrun_enqueue
from tests.support.services import CeleryWorkerProcess

Status = JobRun.Status


@pytest.mark.requires_postgres
@pytest.mark.requires_redis
@pytest.mark.requires_worker
@pytest.mark.django_db(transaction=True)
def test_a_task_sent_through_redis_is_run_by_a_real_worker_and_lands_in_postgres(
    celery_worker: CeleryWorkerProcess,
) -> None:
    WorkerHeartbeat.objects.filter(hostname=celery_worker.hostname).delete()

    worker_heartbeat.apply_async(queue="runs")

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if WorkerHeartbeat.objects.filter(hostname=celery_worker.hostname).exists():
            break
        time.sleep(0.1)
    assert WorkerHeartbeat.objects.filter(hostname=celery_worker.hostname).exists(), (
        celery_worker.log()
    )


def _ended(run_id: int, timeout: float = 30) -> JobRun:
    deadline = time.monotonic() + timeout
    run = JobRun.objects.get(pk=run_id)
    while run.finished_at is None and time.monotonic() < deadline:
        time.sleep(0.1)
        run.refresh_from_db()
    return run


@pytest.mark.requires_postgres
@pytest.mark.requires_redis
@pytest.mark.requires_worker
@pytest.mark.django_db(transaction=True)
def test_a_task_after_its_processes_connection_was_cut_runs_on_a_fresh_one(
    start_worker: Any,
) -> None:
    """The worker keeps its connection from task to task (CELERY_DB_REUSE_MAX);
    the health check before each task must replace one the server cut meanwhile
    (as a database restart does), or the next claim fails and its run waits
    queued for the reaper."""
    worker = start_worker(queues="runs", concurrency=1)
    first = jobrun_enqueue(service="core.echo", trigger="cli", now=timezone.now())
    assert _ended(first.pk).status == Status.SUCCEEDED, worker.log()

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        assert cursor.fetchall(), "no worker connection to cut"
    second = jobrun_enqueue(service="core.echo", trigger="cli", now=timezone.now())

    ended = _ended(second.pk)
    assert (ended.status, ended.attempt) == (Status.SUCCEEDED, 1), worker.log()
