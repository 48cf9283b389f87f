"""The beat scheduler: django-celery-beat's DatabaseScheduler that also dispatches.

The reaper runs here too, every JOBRUN_REAP_SECONDS (see `_Reaper`).

Why inside beat rather than a process of its own: beat is already the one
process that wakes on time, and operators already run exactly one of it. Each
tick sends the system periodic tasks (reaper, prune) as usual, then dispatches
the due schedules, then sleeps until whichever comes first: the next periodic
task, the next schedule's next_run_at, or SCHEDULER_DISPATCH_MAX_SLEEP_MS. On
PostgreSQL a change to the schedules ends that sleep at once (LISTEN/NOTIFY, see
`_Wakeup`); on SQLite the cap bounds how late a schedule created or edited
meanwhile (due sooner than what we slept for) can start.
"""

from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone
from django_celery_beat.schedulers import DatabaseScheduler

from jobruns.dispatcher import dispatch_due, next_due_at
from jobruns.services import jobrun_reap_lost, jobrun_requeue_stale

logger = logging.getLogger(__name__)

# Never spin: a schedule due but locked by another dispatcher is done in ms.
MIN_SLEEP = 0.01


class DispatchingScheduler(DatabaseScheduler):
    def tick(self, *args: Any, **kwargs: Any) -> float:
        interval = super().tick(*args, **kwargs)
        if not interval:
            return interval  # beat sent a periodic task; it wants to tick again
        # Sleep here rather than in beat's loop: on PostgreSQL a change to the
        # schedules (NOTIFY) ends the sleep at once, then beat ticks again.
        # Celery's tick returns a negative interval when a periodic task is
        # overdue (seen after the database came back from a restart); `wait`
        # clamps it, since sleeping a negative time raised and ended beat.
        WAKEUP.wait(min(interval, dispatch_tick()))
        # Something is due or changed now: tick again at once. Returning a
        # pause here made beat sleep 10 ms more before dispatching (about half
        # the dispatch lag measured by bench/steady_bench.py). `wait` never
        # returns at once twice in a row for nothing, so this cannot spin.
        # Beat's loop saves periodic tasks' state only after a sleep it made
        # itself; do it here, as often as it would.
        if self.should_sync():
            self._do_sync()
        return 0


def dispatch_tick() -> float:
    """Dispatch what is due; seconds until the next schedule is due (capped)."""
    cap = settings.SCHEDULER_DISPATCH_MAX_SLEEP_MS / 1000
    close_old_connections()
    REAPER.run_if_due()
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


class _Reaper:
    """The reaper, run every JOBRUN_REAP_SECONDS inside the dispatcher's loop.

    Not a message on the runs queue: with every worker slot busy on long runs a
    queued reaper waited behind them, and a killed worker's run was found lost
    a minute late. Two dispatchers may both reap: every write is conditional.
    """

    def __init__(self) -> None:
        self._next = 0.0

    def run_if_due(self) -> None:
        if time.monotonic() < self._next:
            return
        self._next = time.monotonic() + settings.JOBRUN_REAP_SECONDS
        try:
            now = timezone.now()
            jobrun_requeue_stale(now=now)
            jobrun_reap_lost(now=now)
        except Exception:  # a database hiccup must not stop beat; next round
            logger.exception("reaping lost runs failed")
            close_old_connections()


REAPER = _Reaper()


class _Wakeup:
    """Sleep that a change to the schedules ends early (PostgreSQL LISTEN/NOTIFY).

    A trigger (schedules migration 0003) sends NOTIFY schedules_changed when a
    schedule is created, re-timed, paused or resumed; this listens on its own
    connection (autocommit, as LISTEN needs) while the dispatcher sleeps. On
    SQLite, or when the connection fails, it is a plain sleep: the capped sleep
    bounds the delay as before.
    """

    CHANNEL = "schedules_changed"

    RETRY_SECONDS = 60.0

    def __init__(self) -> None:
        self._conn: Any = None
        self._retry_at = 0.0

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True when woken by a change."""
        # A negative timeout is a ValueError in both sleep and select, and an
        # exception here would end beat.
        seconds = max(MIN_SLEEP, seconds)
        conn = self._listening()
        if conn is None:
            time.sleep(seconds)
            return False
        import select

        deadline = time.monotonic() + seconds
        try:
            while (left := deadline - time.monotonic()) > 0:
                ready, _, _ = select.select([conn], [], [], left)
                if not ready:
                    return False
                conn.poll()
                own = _own_backend_pid()
                # The dispatcher's own UPDATE of next_run_at notifies too; it
                # already knows that change, and waking for it cost an idle tick
                # after every dispatch. Another process's change ends the sleep.
                woken = any(note.pid != own for note in conn.notifies)
                conn.notifies.clear()
                if woken:
                    return True
            return False
        except Exception:  # a dropped connection: listen again next time
            logger.warning("lost the schedules_changed listener; reconnecting")
            self.close()
            return False

    def _listening(self) -> Any:
        from django.db import connection

        if self._conn is not None or connection.vendor != "postgresql":
            return self._conn
        if time.monotonic() < self._retry_at:
            return None
        try:
            self._conn = connection.get_new_connection(
                connection.get_connection_params()
            )
            self._conn.autocommit = True
            with self._conn.cursor() as cursor:
                cursor.execute(f"LISTEN {self.CHANNEL}")
        except Exception:
            logger.exception("cannot LISTEN for schedule changes; sleeping plainly")
            self.close()
            self._retry_at = time.monotonic() + self.RETRY_SECONDS
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
        self._conn = None


WAKEUP = _Wakeup()


def _own_backend_pid() -> int | None:
    """The PostgreSQL backend of this thread's Django connection, if open."""
    from django.db import connection

    raw = connection.connection
    if raw is None:
        return None
    get_pid = getattr(raw, "get_backend_pid", None)  # psycopg2
    if get_pid is not None:
        return int(get_pid())
    return int(raw.info.backend_pid)  # psycopg 3
