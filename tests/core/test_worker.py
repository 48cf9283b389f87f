"""A real worker consumes a task sent through the broker and writes to the database."""

from __future__ import annotations

import time

import pytest

from core.models import WorkerHeartbeat
from core.tasks import worker_heartbeat
from tests.support.services import CeleryWorkerProcess


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
