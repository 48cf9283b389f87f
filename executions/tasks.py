"""Celery tasks: thin doors into `executions.services`, taking ids only.

Routed to the `executions` queue (CELERY_TASK_ROUTES) so that long job runs
on the `runs` queue can never starve them.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.utils import timezone

from executions.services import (
    execution_prune,
    execution_reap,
    execution_run,
    worker_identity,
)


# acks_late + reject_on_worker_lost: a worker killed mid-execution leaves the
# message on the broker; the redelivery finds the execution running under a
# dead process and fails it (or the reaper does, from the database). The soft
# and hard time limits are set per message by execution_create.
@shared_task(
    name="executions.run_method",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def run_method(self: Any, execution_id: str) -> str | None:
    return execution_run(
        execution_id=execution_id, worker=worker_identity(self.request.hostname)
    )


@shared_task(name="executions.reap", ignore_result=True)
def reap() -> dict[str, int]:
    """Sent by beat every few seconds: fail lost executions, re-send lost messages."""
    return execution_reap(now=timezone.now())


@shared_task(name="executions.prune", ignore_result=True)
def prune() -> int:
    """Sent by beat hourly: delete executions whose results expired."""
    return execution_prune(now=timezone.now())
