"""Executing one run: claim, call the service, heartbeat, record the outcome.

The worker task and `manage.py invoke` both reach `execute` through
`jobruns.services.jobrun_execute`, so a service
behaves the same wherever it is started.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, connection
from django.utils import timezone

from connections.clients import ConnectionFailure
from core.logging import log_context
from core.timelimits import soft_time_limit
from jobruns.jobs.base import CappedLogHandler, Request, RunInfo, Service, ServiceError
from jobruns.models import JobRun, result_upload_to
from jobruns.registry import ServiceNotFound, get_service
from jobruns.services import input_problem, jobrun_claim, jobrun_finish

logger = logging.getLogger(__name__)
# Parent of every run's logger: run lines also reach the process's console.
RUN_LOGGER = logging.getLogger("jobruns.run")

Status = JobRun.Status


@dataclass
class Outcome:
    status: str
    output: Any = None
    error: str = ""
    traceback: str = ""


def execute(*, run_id: int, worker: str, in_process: bool = False) -> str | None:
    """See `jobruns.services.jobrun_execute`."""
    if not jobrun_claim(run_id=run_id, worker=worker, now=timezone.now()):
        return None
    run = JobRun.objects.get(pk=run_id)
    handler = CappedLogHandler(settings.JOBRUN_LOG_MAX_BYTES)
    # Not getLogger(): that registers a logger per run for the process's life.
    run_logger = logging.Logger(f"jobruns.run.{run.pk}")  # noqa: LOG001
    run_logger.parent = RUN_LOGGER
    run_logger.addHandler(handler)
    with log_context(run=run.pk), _heartbeat(run.pk):
        logger.info("run %s started: %s (attempt %s)", run.pk, run.service, run.attempt)
        outcome, service = _call(run, run_logger, in_process=in_process)
        if service is not None:
            service.close_connections()
    stored = _store_result(run, service)
    if not jobrun_finish(
        run_id=run.pk,
        status=outcome.status,
        now=timezone.now(),
        output=outcome.output,
        log=handler.text(),
        error=outcome.error,
        traceback=outcome.traceback,
        result_file=stored,
    ):
        # Cancelled (or reaped) while running: its end is already recorded.
        if stored:
            default_storage.delete(stored)
        logger.info("run %s ended after it was cancelled or reaped", run.pk)
        return JobRun.objects.values_list("status", flat=True).get(pk=run.pk)
    logger.info("run %s %s", run.pk, outcome.status)
    return outcome.status


def _call(
    run: JobRun, run_logger: logging.Logger, *, in_process: bool
) -> tuple[Outcome, Service | None]:
    try:
        service = _instantiate(run, run_logger)
    except (ServiceNotFound, ServiceError) as exc:
        run_logger.error("%s", exc)
        return Outcome(Status.FAILED, error=str(exc)), None
    try:
        limit = run.time_limit_seconds if in_process else None
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
def _heartbeat(run_id: int) -> Iterator[None]:
    """Touch heartbeat_at every few seconds while the service runs.

    A thread, not the task: the service may block for minutes in one call, and
    the reaper must still tell a slow run from a dead worker.
    """
    stop = threading.Event()
    every = settings.JOBRUN_HEARTBEAT_SECONDS

    def beat() -> None:
        try:
            while not stop.wait(every):
                try:
                    JobRun.objects.filter(pk=run_id, status=Status.IN_PROGRESS).update(
                        heartbeat_at=timezone.now()
                    )
                except DatabaseError:
                    logger.warning("heartbeat of run %s not written", run_id)
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=beat, name=f"heartbeat-{run_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=every + 5)
