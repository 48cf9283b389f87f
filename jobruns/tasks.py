"""Celery tasks: thin doors into `jobruns` services, taking ids only."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task
from celery.exceptions import TimeLimitExceeded
from celery.signals import task_revoked
from django.db import DatabaseError
from django.utils import timezone

from jobruns.services import (
    jobrun_end_killed_at_hard_limit,
    jobrun_end_killed_message,
    jobrun_execute,
    jobrun_execute_many,
    jobrun_prune,
    jobrun_reap_lost,
    jobrun_requeue_stale,
    jobrun_resend_queued,
)

logger = logging.getLogger(__name__)


# acks_late + reject_on_worker_lost: a worker killed mid-run leaves the message
# on the broker; the redelivery finds the run no longer queued and does nothing,
# and the reaper ends the run as "worker lost" (and retries it) from the database.
# The soft and hard time limits are set per message by jobrun_enqueue.
class ExecuteRunTask(Task):
    def on_failure(
        self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        # Called in the worker's parent process when the hard time limit killed
        # the child: nothing in the child could record the end, so do it here
        # (the reaper would otherwise call it "worker lost" much later).
        if not isinstance(exc, TimeLimitExceeded) or not args:
            return
        try:
            if isinstance(args[0], list):
                jobrun_end_killed_message(
                    run_ids=args[0], task_id=task_id, now=timezone.now()
                )
            else:
                jobrun_end_killed_at_hard_limit(run_id=args[0], now=timezone.now())
        except DatabaseError:
            logger.exception("runs %s: could not record the hard time limit", args[0])


@shared_task(
    name="jobruns.execute_run",
    base=ExecuteRunTask,
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def execute_run(self: Any, run_id: int) -> str | None:
    return jobrun_execute(
        run_id=run_id, worker=self.request.hostname or "", task_id=self.request.id
    )


# Several runs of a dispatch batch in one message (JOBRUN_RUNS_PER_MESSAGE). Same
# delivery guarantees as execute_run: every claim is conditional, so a
# redelivered message executes only what nobody claimed yet.
@shared_task(
    name="jobruns.execute_runs",
    base=ExecuteRunTask,
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def execute_runs(self: Any, run_ids: list[int]) -> int:
    return jobrun_execute_many(
        run_ids=run_ids, worker=self.request.hostname or "", task_id=self.request.id
    )


@task_revoked.connect
def _give_back_revoked_message(
    sender: Any = None, request: Any = None, **kwargs: Any
) -> None:
    """A revoked message of several runs: send the runs it did not start again.

    Cancelling a running run revokes (terminates) the message executing it;
    the runs behind it in that message would otherwise wait for the reaper.
    Called in the worker's parent process; the claims stay the guarantee.
    """
    if getattr(sender, "name", None) != execute_runs.name or not request.args:
        return
    try:
        jobrun_resend_queued(run_ids=request.args[0], now=timezone.now())
    except DatabaseError:
        logger.exception("runs %s: could not send them again", request.args[0])


@shared_task(name="jobruns.reap", ignore_result=True)
def reap() -> dict[str, int]:
    """Sent by beat every few seconds: re-send lost messages, end lost runs."""
    now = timezone.now()
    return {
        "requeued": jobrun_requeue_stale(now=now),
        "lost": jobrun_reap_lost(now=now),
    }


@shared_task(name="jobruns.prune", ignore_result=True)
def prune() -> int:
    """Sent by beat nightly: apply each schedule's retention."""
    return jobrun_prune(now=timezone.now())
