"""Executing one run: claim, call the service, heartbeat, record the outcome.

The worker task and `manage.py invoke` both reach `execute` through
`jobruns.services.jobrun_execute`, so a service
behaves the same wherever it is started.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.utils import timezone

from connections.clients import ConnectionFailure
from core.logging import log_context
from core.timelimits import soft_time_limit
from jobruns.jobs.base import CappedLogHandler, Request, RunInfo, Service, ServiceError
from jobruns.models import JobRun, result_upload_to
from jobruns.registry import ServiceNotFound, get_service
from jobruns.services import (
    NextClaim,
    input_problem,
    jobrun_claim,
    jobrun_claimed_with_finish,
    jobrun_finish,
    jobrun_finish_and_claim,
    jobrun_resend_queued,
)

logger = logging.getLogger(__name__)
# Parent of every run's logger: run lines also reach the process's console.
RUN_LOGGER = logging.getLogger("jobruns.run")
# A database restart or failover cuts every connection. Reading a claimed run and
# writing a finished run's outcome are worth a few seconds of retrying: given up,
# the run stays in_progress, the reaper calls it lost and its retry executes the
# service a second time (or for the first time, late, after a false failure).
# 0.5 + 1 + 2 + 4 s: the order of a restart, below the heartbeat timeout.
FINISH_ATTEMPTS = 5
FINISH_FIRST_BACKOFF = 0.5
# What a cut connection raises: OperationalError on the query that met the cut,
# InterfaceError ("connection already closed") on every query after it.
CONNECTION_LOST = (OperationalError, InterfaceError)
T = TypeVar("T")

Status = JobRun.Status


@dataclass
class Outcome:
    status: str
    output: Any = None
    error: str = ""
    traceback: str = ""


def execute(
    *,
    run_id: int,
    worker: str,
    in_process: bool = False,
    task_id: str | None = None,
    own_limit: bool = False,
) -> str | None:
    """See `jobruns.services.jobrun_execute`.

    `own_limit`: raise SoftTimeLimitExceeded at the run's time limit here (as
    `in_process` does) rather than relying on the message's limit.
    """
    run = jobrun_claim(
        run_id=run_id, worker=worker, now=timezone.now(), task_id=task_id
    )
    if run is None:
        return None
    return _execute_claimed(run, own_limit=in_process or own_limit).status


@dataclass
class Ended:
    """How an executed run ended, and the message's next run claimed with it."""

    status: str
    next_run: JobRun | None = None
    next_tried: bool = False  # whether the finish claimed (or tried) the next run


def _execute_claimed(
    run: JobRun,
    *,
    own_limit: bool,
    claim_next: Callable[[], NextClaim | None] | None = None,
) -> Ended:
    """Execute a claimed run and record its end; `claim_next`, asked once the
    service returned, names the run to claim with the finish (or None)."""
    # The claim read the row back (UPDATE ... RETURNING): no second read
    # that a cut connection could break between claiming and executing.
    handler = CappedLogHandler(settings.JOBRUN_LOG_MAX_BYTES)
    # Not getLogger(): that registers a logger per run for the process's life.
    run_logger = logging.Logger(f"jobruns.run.{run.pk}")  # noqa: LOG001
    run_logger.parent = RUN_LOGGER
    run_logger.addHandler(handler)
    with log_context(run=run.pk), _heartbeat(run.pk, handler):
        logger.info("run %s started: %s (attempt %s)", run.pk, run.service, run.attempt)
        outcome, service = _call(run, run_logger, own_limit=own_limit)
        if service is not None:
            service.close_connections()
    stored = _store_result(run, service)
    then = claim_next() if claim_next is not None else None
    finished, next_run = _finish(
        run_id=run.pk,
        status=outcome.status,
        now=timezone.now(),
        then=then,
        output=outcome.output,
        log=handler.text(),
        error=outcome.error,
        traceback=outcome.traceback,
        result_file=stored,
    )
    if not finished:
        # Cancelled (or reaped) while running: its end is already recorded.
        if stored:
            default_storage.delete(stored)
        logger.info("run %s ended after it was cancelled or reaped", run.pk)
        return Ended(JobRun.objects.values_list("status", flat=True).get(pk=run.pk))
    logger.info("run %s %s", run.pk, outcome.status)
    return Ended(outcome.status, next_run, next_tried=then is not None)


def execute_many(*, run_ids: Sequence[int], worker: str, task_id: str) -> int:
    """See `jobruns.services.jobrun_execute_many`.

    Each run gets its own soft time limit here (SIGALRM in the pool process):
    Celery's limits apply to the whole message, so they are set one slice
    later and only catch a service that ignores the soft limit. A run cancelled
    while it ran ends the message: the cancel revokes this message's task id,
    which would terminate whatever run the slot executed next.

    Each run's finish also claims the next run (`jobrun_finish_and_claim`):
    one commit per run instead of two.
    """
    began = time.monotonic()

    def slice_spent() -> bool:
        return time.monotonic() - began >= settings.JOBRUN_MESSAGE_SLICE_SECONDS

    executed = 0
    run: JobRun | None = None
    claimed = False  # run_ids[index] was claimed by the previous finish: `run`
    for index, run_id in enumerate(run_ids):
        if index and not claimed and slice_spent():
            spent = time.monotonic() - began
            _give_back(run_ids[index:], reason=f"slice of {spent:.1f} s spent")
            break
        following = run_ids[index + 1] if index + 1 < len(run_ids) else None
        try:
            if not claimed:
                run = jobrun_claim(
                    run_id=run_id, worker=worker, now=timezone.now(), task_id=task_id
                )
            if run is None:
                claimed = False
                continue
            claim_next = None
            if following is not None:
                claim_next = functools.partial(
                    _unless, slice_spent, NextClaim(following, worker, task_id)
                )
            ended = _execute_claimed(run, own_limit=True, claim_next=claim_next)
        except Exception:
            # The message fails (say, the database went away); the runs after
            # this one need not wait for the reaper if they can be sent now.
            with contextlib.suppress(Exception):
                _give_back(run_ids[index + 1 :], reason=f"run {run_id} failed")
            raise
        executed += 1
        if ended.status == Status.CANCELLED:
            _give_back(run_ids[index + 1 :], reason=f"run {run_id} was cancelled")
            break
        run, claimed = ended.next_run, ended.next_tried
    return executed


def _unless(spent: Callable[[], bool], then: NextClaim) -> NextClaim | None:
    """`then` unless the message's slice is spent: decided after the service ran."""
    return None if spent() else then


def _give_back(run_ids: Sequence[int], *, reason: str) -> None:
    if not run_ids:
        return
    sent = _reconnecting(
        lambda: jobrun_resend_queued(run_ids=run_ids, now=timezone.now()),
        run_id=run_ids[0],
    )
    logger.info("%s: %d queued runs of this message sent again", reason, sent)


def _finish(
    *, run_id: int, status: str, now: datetime, then: NextClaim | None, **outcome: Any
) -> tuple[bool, JobRun | None]:
    """`jobrun_finish` (or `jobrun_finish_and_claim` of `then`), retried over a
    reconnect when the connection was cut; (finished, the next run if claimed)."""
    tries = iter(range(FINISH_ATTEMPTS))

    def write() -> tuple[bool, JobRun | None]:
        if (
            next(tries)
            and JobRun.objects.filter(
                pk=run_id, status=status, finished_at=now
            ).exists()
        ):
            # The cut came after the server committed our write. The next
            # run's claim went with it, or was not made yet: ask, then claim.
            if then is None:
                return True, None
            return True, jobrun_claimed_with_finish(then=then, now=now) or (
                jobrun_claim(
                    run_id=then.run_id,
                    worker=then.worker,
                    now=now,
                    task_id=then.task_id,
                )
            )
        if then is None:
            return jobrun_finish(run_id=run_id, status=status, now=now, **outcome), None
        return jobrun_finish_and_claim(
            run_id=run_id, status=status, now=now, then=then, **outcome
        )

    return _reconnecting(write, run_id=run_id)


def _reconnecting(action: Callable[[], T], *, run_id: int) -> T:
    """`action()`, tried again over a fresh connection when the old one was cut."""
    for attempt in range(1, FINISH_ATTEMPTS):
        try:
            return action()
        except CONNECTION_LOST:
            logger.warning("run %s: database connection lost, retrying", run_id)
            connection.close()  # the next query opens a fresh connection
            time.sleep(FINISH_FIRST_BACKOFF * 2 ** (attempt - 1))
    return action()  # the last attempt: its error is the task's


def _call(
    run: JobRun, run_logger: logging.Logger, *, own_limit: bool
) -> tuple[Outcome, Service | None]:
    try:
        service = _instantiate(run, run_logger)
    except (ServiceNotFound, ServiceError) as exc:
        run_logger.error("%s", exc)
        return Outcome(Status.FAILED, error=str(exc)), None
    try:
        limit = run.time_limit_seconds if own_limit else None
        with soft_time_limit(limit):
            service.handle()
        return Outcome(Status.SUCCEEDED, output=_json(service.response.payload)), (
            service
        )
    except SoftTimeLimitExceeded:
        message = f"time limit of {run.time_limit_seconds} s exceeded"
        run_logger.error("%s", message)
        return Outcome(Status.TIMED_OUT, error=message), service
    except (ServiceError, ConnectionFailure) as exc:
        # Expected failures: the message names what failed; no traceback.
        run_logger.error("%s", exc)
        return Outcome(Status.FAILED, error=str(exc)), service
    except Exception as exc:  # the service's own bug: record it, never crash
        run_logger.exception("service raised %s", type(exc).__name__)
        return Outcome(
            Status.FAILED,
            error=f"{type(exc).__name__}: {exc}",
            traceback=traceback.format_exc(),
        ), service


def _instantiate(run: JobRun, run_logger: logging.Logger) -> Service:
    cls = get_service(run.service)
    problem = input_problem(run.service, run.input)
    if problem:
        raise ServiceError(f"the input does not fit {run.service}: {problem}")
    request = Request(payload=dict(run.input), raw_request=run.extra, args=run.args)
    info = RunInfo(
        id=run.pk,
        scheduled_for=run.scheduled_for,
        trigger=run.trigger,
        attempt=run.attempt,
        schedule_name=run.schedule_name,
        correlation_id=run.correlation_id,
        chain_id=run.retry_of_id or run.pk,
    )
    return cls(request=request, run=info, logger=run_logger)


def _json(payload: Any) -> Any:
    """The output as plain JSON (dates become ISO strings); ServiceError if not JSON."""
    try:
        return json.loads(json.dumps(payload, cls=DjangoJSONEncoder))
    except (TypeError, ValueError) as exc:
        raise ServiceError(f"the response payload is not JSON: {exc}") from exc


def _store_result(run: JobRun, service: Service | None) -> str:
    if service is None or service.result is None:
        return ""
    name = result_upload_to(run, service.result.name)
    if default_storage.exists(name):
        # Left by a run with this id in a database since reset; the folder is
        # this run's, and a renamed copy would be a file nobody can prune.
        default_storage.delete(name)
    return default_storage.save(name, ContentFile(service.result.getvalue().encode()))


@contextlib.contextmanager
def _heartbeat(run_id: int, handler: CappedLogHandler) -> Iterator[None]:
    """Keep heartbeat_at and the saved log fresh while the service runs."""
    HEARTBEATS.add(run_id, handler)
    try:
        yield
    finally:
        HEARTBEATS.discard(run_id)


class _Heartbeats:
    """One thread per process touches heartbeat_at of the runs executing in it.

    A thread, not the task: the service may block for minutes in one call, and
    the reaper must still tell a slow run from a dead worker. One thread for
    the process's life rather than one per run: a run shorter than the beat
    interval (most runs) costs no thread start and no statement (the claim set
    heartbeat_at), and a worker with many slots beats all its runs in ONE UPDATE.
    Each beat also saves the log of a run whose log grew: a service killed at
    the hard time limit (or with its worker) keeps every line up to its last
    heartbeat.
    """

    def __init__(self) -> None:
        # run id -> (its log handler, the log size last saved)
        self._runs: dict[int, tuple[CappedLogHandler, int]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def add(self, run_id: int, handler: CappedLogHandler) -> None:
        with self._lock:
            self._runs[run_id] = (handler, handler.size)
            # A prefork child does not inherit its parent's threads: start one
            # in this process the first time it runs something.
            if self._thread is None or self._pid != os.getpid():
                self._pid = os.getpid()
                self._thread = threading.Thread(
                    target=self._loop, name="run-heartbeats", daemon=True
                )
                self._thread.start()

    def discard(self, run_id: int) -> None:
        with self._lock:
            self._runs.pop(run_id, None)

    def _loop(self) -> None:
        every = settings.JOBRUN_HEARTBEAT_SECONDS
        while not self._wake.wait(every):
            with self._lock:
                runs = dict(self._runs)
            if runs:
                self.beat(runs)

    def beat(self, runs: dict[int, tuple[CappedLogHandler, int]]) -> None:
        try:
            JobRun.objects.filter(pk__in=list(runs), status=Status.IN_PROGRESS).update(
                heartbeat_at=timezone.now()
            )
            for run_id, (handler, saved) in runs.items():
                if handler.size == saved:
                    continue
                JobRun.objects.filter(pk=run_id, status=Status.IN_PROGRESS).update(
                    log=handler.text()
                )
                with self._lock:
                    if run_id in self._runs:
                        self._runs[run_id] = (handler, handler.size)
        except (DatabaseError, InterfaceError):
            logger.warning("heartbeat of runs %s not written", list(runs))
            # A cut connection stays broken until closed; without this, one
            # database restart would end the heartbeats and the reaper would
            # call a healthy run lost. Reopened at the next beat.
            connection.close()


HEARTBEATS = _Heartbeats()
