"""Worker signals: its heartbeat, and the database connection of each task.

Worker start-up records a heartbeat at once, then every WORKER_HEARTBEAT_SECONDS.
The beats come from a thread of the worker's main process, not from a message
on the runs queue: with every pool slot busy on long runs such a message waited
behind them, and /readyz said "no worker seen" about healthy workers.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery.signals import task_postrun, task_prerun, worker_ready
from django.conf import settings
from django.db import DatabaseError, close_old_connections
from django.utils import timezone

logger = logging.getLogger(__name__)


@worker_ready.connect
def _record_worker_start(sender: Any = None, **_: Any) -> None:
    from core.services import worker_heartbeat_record

    close_old_connections()
    worker_heartbeat_record(hostname=sender.hostname, now=timezone.now(), started=True)
    logger.info("worker %s ready", sender.hostname)
    threading.Thread(
        target=_beat_forever,
        args=(sender.hostname,),
        name="worker-heartbeat",
        daemon=True,  # ends with the worker; a warm shutdown need not wait
    ).start()


def _beat_forever(hostname: str) -> None:
    from core.services import worker_heartbeat_record

    stop = threading.Event()  # never set: the daemon thread dies with the process
    while not stop.wait(settings.WORKER_HEARTBEAT_SECONDS):
        try:
            worker_heartbeat_record(hostname=hostname, now=timezone.now())
        except DatabaseError:
            logger.warning("worker heartbeat of %s not written", hostname)
            close_old_connections()


@task_prerun.connect
@task_postrun.connect
def _close_old_connections(task: Any = None, **_: Any) -> None:
    """What Django does around each request, around each task.

    With CELERY_DB_REUSE_MAX set Celery no longer closes the connection per
    task: this drops one past CONN_MAX_AGE or left broken by an error, and arms
    the health check (one `SELECT 1` at the task's first query), so a task never
    starts on a connection a database restart cut. Not for a task run eagerly
    (in the caller's process): the connection is the caller's, perhaps inside
    its transaction.
    """
    if task is not None and getattr(task.request, "is_eager", False):
        return
    close_old_connections()
