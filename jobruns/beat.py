"""The beat scheduler: django-celery-beat's DatabaseScheduler that also dispatches.

Why inside beat rather than a process of its own: beat is already the one
process that wakes on time, and operators already run exactly one of it. Each
tick sends the system periodic tasks (reaper, prune) as usual, then dispatches
the due schedules, then sleeps until whichever comes first: the next periodic
task, the next schedule's next_run_at, or SCHEDULER_DISPATCH_MAX_SLEEP_MS. The
cap bounds how late a schedule created or edited meanwhile (due sooner than
what we slept for) can start.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone
from django_celery_beat.schedulers import DatabaseScheduler

from jobruns.dispatcher import dispatch_due, next_due_at

logger = logging.getLogger(__name__)

# Never spin: a schedule due but locked by another dispatcher is done in ms.
MIN_SLEEP = 0.01


class DispatchingScheduler(DatabaseScheduler):
    def tick(self, *args: Any, **kwargs: Any) -> float:
        interval = super().tick(*args, **kwargs)
        if not interval:
            return interval  # beat sent a periodic task; it wants to tick again
        return min(interval, dispatch_tick())


def dispatch_tick() -> float:
    """Dispatch what is due; seconds until the next schedule is due (capped)."""
    cap = settings.SCHEDULER_DISPATCH_MAX_SLEEP_MS / 1000
    close_old_connections()
    try:
        queued = dispatch_due(now=timezone.now())
        upcoming = next_due_at()
    except Exception:  # a database hiccup must not stop beat; retry next tick
        logger.exception("dispatching due schedules failed")
        close_old_connections()
        return cap
    beat_alive_mark(Path(settings.BEAT_ALIVE_FILE))
    if queued:
        logger.info("dispatched %d runs", queued)
    if upcoming is None:
        return cap
    wait = (upcoming - timezone.now()).total_seconds()
    return max(MIN_SLEEP, min(cap, wait))


def beat_alive_mark(path: Path) -> None:
    """Record a completed dispatch tick for ``manage.py beat_alive`` (a healthcheck).

    A file's modification time rather than a database row: the check runs
    every few seconds in beat's own container and must not need the database
    to tell that beat itself is stuck.
    """
    try:
        path.touch()
    except OSError as error:
        logger.warning("cannot mark beat alive in %s: %s", path, error.strerror)
