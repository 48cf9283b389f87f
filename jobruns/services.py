"""Job run services: every write to a JobRun goes through here.

Every status change is a conditional UPDATE on the previous status, checked by
its row count, so two deliveries of one message, a reaper and a worker, or a
cancel and a finish can race and exactly one of them wins.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Max, Q, QuerySet, Subquery

from core.audit import Action, audit_record
from core.codes import NOT_RETRYABLE, RUN_IN_PROGRESS
from core.messaging import publish_on_commit
from core.text import nul_problem
from jobruns import statements
from jobruns.models import JobRun
from jobruns.registry import get_service, service_exists
from schedules.services import schedule_run_end_sql

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from schedules.models import Schedule

logger = logging.getLogger(__name__)

Status = JobRun.Status
Trigger = JobRun.Trigger

# Triggers a person asked for: an overlap refusal is an error they should see,
# not a silent "skipped" row (OpenSpecimen answers 400 here, see specs/README).
ASKED_FOR = (Trigger.MANUAL, Trigger.API, Trigger.CLI)
# Seconds between the soft time limit (run ends timed_out) and the hard kill:
# settings.JOBRUN_HARD_LIMIT_GRACE_SECONDS (30 by default).
EXCLUSIVE_POLICIES = ("skip", "queue_one", "replace")
BATCH = 500


class RunRefused(ValidationError):
    """The schedule's overlap policy refuses another run right now."""


class RunNotRetryable(ValidationError):
    """Only an ended run that did not succeed can be retried."""


# Keys an adapter adds to a run's input once the run exists (its id known): the
# Conductor adapter adds `_scheduledTime`, `_executionId`... as Conductor does.
# Registered in AppConfig.ready(); applied after validation, so a service's
# input_schema judges what the caller sent, not the added keys. A context takes
# every run of a dispatcher batch at once and answers {run id: added keys} for
# the runs it cares about, so the batch pays one query, not one per run.
RunInputContext = Callable[[Sequence[JobRun]], Mapping[int, Mapping[str, Any]]]
_run_input_contexts: list[RunInputContext] = []


def register_run_input_context(context: RunInputContext) -> None:
    if context not in _run_input_contexts:
        _run_input_contexts.append(context)


# --- creating runs ----------------------------------------------------------------
def jobrun_enqueue(
    *,
    schedule: Schedule | None = None,
    service: str | None = None,
    trigger: str,
    args: Sequence[str] = (),
    input_override: dict[str, Any] | None = None,
    extra: str | None = None,
    by: AbstractBaseUser | str | None = None,
    scheduled_for: datetime | None = None,
    now: datetime,
    send: bool = True,
    attempt: int = 1,
    retry_of: JobRun | None = None,
    not_before: datetime | None = None,
    correlation_id: str | None = None,
    asked: bool | None = None,
) -> JobRun:
    """Create a run (queued, or skipped by the overlap policy) and send it on commit.

    The one way any caller creates a run. Raises ValidationError for a bad
    request and RunRefused when a person asks for a run the overlap policy
    refuses (`asked`: whether a person asked; default: from the trigger).
    """
    if schedule is None and not service:
        raise ValidationError({"service": "name a service or a schedule to run"})
    service_name = service or (schedule.target if schedule else "")
    payload = (
        input_override if input_override is not None else _schedule_input(schedule)
    )
    _validate_request(service_name, list(args), payload)
    run = JobRun(
        schedule=schedule,
        schedule_name=schedule.name if schedule else "",
        service=service_name,
        trigger=trigger,
        scheduled_for=scheduled_for,
        args=list(args),
        input=payload,
        extra=extra if extra is not None else (schedule.extra if schedule else ""),
        correlation_id=correlation_id
        if correlation_id is not None
        else (schedule.correlation_id if schedule else ""),
        time_limit_seconds=_time_limit(schedule),
        queued_at=now,
        sent_at=now,
        not_before=not_before,
        attempt=attempt,
        retry_of=retry_of,
        celery_task_id=str(uuid.uuid4()),
        exclusive=schedule is not None
        and schedule.overlap_policy in EXCLUSIVE_POLICIES,
    )
    _set_by(run, by)
    asked = trigger in ASKED_FOR if asked is None else asked
    with transaction.atomic():
        if schedule is not None:
            _apply_overlap(run, schedule, now=now, asked=asked)
        run.save()
        _add_input_context(run)
        if run.status == Status.QUEUED and send:
            _send_on_commit(run, now=now)
        if trigger in ASKED_FOR:
            _audit_run_now(run, schedule, by=by, now=now)
    return run


def _audit_run_now(
    run: JobRun, schedule: Schedule | None, *, by: Any, now: datetime
) -> None:
    """Run now is recorded on the schedule; a bare service run on the run itself."""
    changes: dict[str, Any] = {"run": [None, run.pk], "status": [None, run.status]}
    if run.args:
        changes["args"] = [None, run.args]
    audit_record(
        action=Action.RUN_NOW, obj=schedule or run, by=by, changes=changes, now=now
    )


def _add_input_context(run: JobRun) -> None:
    _add_input_contexts([run])


def _add_input_contexts(runs: Sequence[JobRun]) -> None:
    """Merge the adapters' keys into the runs' input: one UPDATE for all of them."""
    by_pk = {run.pk: run for run in runs}
    changed: set[int] = set()
    for context in _run_input_contexts:
        for run_id, added in context(runs).items():
            run = by_pk[run_id]
            run.input = {**run.input, **added}
            changed.add(run_id)
    if changed:
        JobRun.objects.bulk_update([by_pk[pk] for pk in changed], ["input"])


def jobrun_record_skipped(
    *,
    schedule: Schedule,
    scheduled_for: datetime,
    reason: str,
    count: int,
    note: str,
    now: datetime,
) -> JobRun:
    """Record fires that did not run as one skipped row (IntegrityError if known)."""
    from jobruns.fires import fire_skipped

    run = fire_skipped(
        schedule, scheduled_for, reason=reason, count=count, note=note, now=now
    )
    run.save()
    return run


def jobrun_record_refused(
    *, schedule: Schedule, scheduled_for: datetime, error: Exception, now: datetime
) -> JobRun | None:
    """Record a fire that could not even be queued (say, its service is gone)."""
    from jobruns.fires import fire_refused

    run = fire_refused(schedule, scheduled_for, error=error, now=now)
    try:
        with transaction.atomic():
            run.save()
    except IntegrityError:
        return None
    return run


def _schedule_input(schedule: Schedule | None) -> dict[str, Any]:
    return dict(schedule.input or {}) if schedule is not None else {}


def _validate_request(service: str, args: list[Any], payload: Any) -> None:
    if not service_exists(service):
        raise ValidationError({"service": f"no service is registered as {service!r}"})
    if not all(isinstance(arg, str) for arg in args):
        raise ValidationError({"args": "args must be a list of strings"})
    if not isinstance(payload, dict):
        raise ValidationError({"input": "the input must be a JSON object"})
    for field, value in (("args", args), ("input", payload)):
        if text_problem := nul_problem(value, field):
            raise ValidationError({field: text_problem})
    problem = input_problem(service, payload)
    if problem:
        raise ValidationError({"input": problem})


def input_problem(service: str, payload: dict[str, Any]) -> str | None:
    """Why `payload` does not fit the service's input_schema, or None."""
    validator = _input_validator(service)
    if validator is None:
        return None
    import jsonschema

    error = jsonschema.exceptions.best_match(validator.iter_errors(payload))
    if error is None:
        return None
    where = "/".join(str(part) for part in error.absolute_path)
    return f"{where}: {error.message}" if where else error.message


@functools.cache
def _input_validator(service: str) -> Any:
    """The compiled input_schema of a service, built once per process.

    Every run and every dispatched fire asks, and building a validator costs
    more than checking a small payload. Services register at start-up and a
    name never changes class, so the cache never goes stale.
    """
    schema = get_service(service).input_schema
    if not schema:
        return None
    import jsonschema

    return jsonschema.Draft202012Validator(schema)


def target_input_problem(service: str, payload: dict[str, Any]) -> str | None:
    """Like `input_problem`, but None for a name the registry does not know
    (the caller reports an unknown target on its own)."""
    return input_problem(service, payload) if service_exists(service) else None


def _time_limit(schedule: Schedule | None) -> int:
    if schedule is not None and schedule.time_limit_seconds:
        return schedule.time_limit_seconds
    return settings.JOBRUN_DEFAULT_TIME_LIMIT_SECONDS


def _set_by(run: JobRun, by: AbstractBaseUser | str | None) -> None:
    if by is None:
        run.triggered_by_label = run.trigger
    elif isinstance(by, str):
        run.triggered_by_label = by
    else:
        run.triggered_by = by  # type: ignore[assignment]
        run.triggered_by_label = f"{run.trigger}:{by.get_username()}"


def _apply_overlap(
    run: JobRun, schedule: Schedule, *, now: datetime, asked: bool
) -> None:
    """Queue, skip or replace according to the schedule's overlap policy."""
    from schedules.models import Schedule

    # Blocking row lock: serializes overlap decisions of the dispatcher, run
    # now and retries for one schedule (the dispatcher already holds it).
    Schedule.objects.select_for_update().filter(pk=schedule.pk).first()
    active = JobRun.objects.filter(schedule=schedule, status__in=JobRun.ACTIVE)
    policy = schedule.overlap_policy
    if policy == "replace":
        for running in active:
            jobrun_cancel(run=running, by="replaced by a newer run", now=now)
        return
    if policy == "skip":
        refuse = active.exists()
    elif policy == "queue_one":
        refuse = active.filter(status=Status.QUEUED).exists()
    else:
        refuse = bool(schedule.max_parallel) and active.count() >= (
            schedule.max_parallel or 0
        )
    if not refuse:
        return
    if asked:
        raise RunRefused(
            f"schedule {schedule.name!r} already has a run in progress and its "
            f"overlap policy is {policy!r}; wait for it to finish or cancel it",
            code=RUN_IN_PROGRESS,
        )
    _mark_skipped(run, reason=JobRun.SkipReason.OVERLAP, count=1, now=now)


def _mark_skipped(run: JobRun, *, reason: str, count: int, now: datetime) -> None:
    run.status = Status.SKIPPED
    run.skip_reason = reason
    run.skipped_count = count
    run.finished_at = now
    run.sent_at = None


class _Message(NamedTuple):
    run_ids: tuple[int, ...]
    task_id: str
    limit: int
    countdown: float


def _message(run: JobRun, *, now: datetime, countdown: float = 0) -> _Message:
    if run.not_before is not None and run.not_before > now:
        countdown = max(countdown, (run.not_before - now).total_seconds())
    return _Message((run.pk,), run.celery_task_id, run.time_limit_seconds, countdown)


def _send_on_commit(run: JobRun, *, now: datetime, countdown: float = 0) -> None:
    """Send `jobruns.execute_run` once the row is committed (never before)."""
    # The run stays queued with its sent_at if the broker is down: the reaper
    # (jobrun_requeue_stale) sends it again, so the caller still answers 202.
    publish_on_commit(
        partial(_publish, [_message(run, now=now, countdown=countdown)]),
        what=f"run {run.pk}",
    )


def _send_many_on_commit(runs: Sequence[JobRun], *, now: datetime) -> None:
    if runs:
        publish_on_commit(
            partial(_publish, _bundled(runs, now=now)),
            what=f"{len(runs)} runs of a dispatch batch",
        )


def _bundled(runs: Sequence[JobRun], *, now: datetime) -> list[_Message]:
    """The runs as messages of up to JOBRUN_RUNS_PER_MESSAGE runs each.

    Only runs with the same time limit and countdown share a message: the
    message carries the worker's backstop limits, and a delayed run must not
    hold back the others. A message of one run keeps the run's own task id.
    """
    size = settings.JOBRUN_RUNS_PER_MESSAGE
    groups: dict[tuple[int, float], list[int]] = {}
    for run in runs:
        single = _message(run, now=now)
        groups.setdefault((single.limit, single.countdown), []).extend(single.run_ids)
    messages = []
    by_pk = {run.pk: run for run in runs}
    for (limit, countdown), ids in groups.items():
        for start in range(0, len(ids), size):
            chunk = tuple(ids[start : start + size])
            task_id = by_pk[chunk[0]].celery_task_id if len(chunk) == 1 else ""
            messages.append(
                _Message(chunk, task_id or str(uuid.uuid4()), limit, countdown)
            )
    return messages


def _publish(messages: Sequence[_Message]) -> None:
    """Publish the messages on ONE producer (one broker connection and channel).

    apply_async alone acquires a pooled producer per message; a batch of
    hundreds reuses one. A message of one run is `jobruns.execute_run` with the
    run's task id; a message of several is `jobruns.execute_runs`, whose worker
    enforces each run's soft limit itself (see `runner.execute_many`): Celery's
    limits apply to the whole message, so there they are only the backstop,
    one slice later.
    """
    from jobruns.tasks import execute_run, execute_runs

    grace = settings.JOBRUN_HARD_LIMIT_GRACE_SECONDS
    with execute_run.app.producer_or_acquire() as producer:
        for message in messages:
            several = len(message.run_ids) > 1
            soft = message.limit
            if several:
                soft += settings.JOBRUN_MESSAGE_SLICE_SECONDS
            task = execute_runs if several else execute_run
            task.apply_async(
                args=[list(message.run_ids) if several else message.run_ids[0]],
                task_id=message.task_id,
                countdown=message.countdown or None,
                soft_time_limit=soft,
                time_limit=soft + grace,
                producer=producer,
            )


def jobrun_resend_queued(*, run_ids: Sequence[int], now: datetime) -> int:
    """Send again those of `run_ids` still queued, bundled; how many were sent.

    A worker slot that has spent its slice on a message (or was killed in it)
    gives the runs it has not claimed back to the queue. Runs claimed or ended
    meanwhile are left out; a copy of a message still in flight is harmless,
    since only one claim wins. sent_at stays as it was: the reaper re-sends
    only when the queue is empty, and a spare copy costs one failed claim.
    """
    runs = list(
        JobRun.objects.filter(pk__in=run_ids, status=Status.QUEUED)
        .only("pk", "time_limit_seconds", "not_before", "celery_task_id")
        .order_by("pk")
    )
    _send_many_on_commit(runs, now=now)
    return len(runs)


# --- the lifecycle -----------------------------------------------------------------
# A claim that finds the exclusive slot taken marks the running run and stays
# queued; if the running run ended before the mark, it simply tries again.
CLAIM_TRIES = 3


def jobrun_claim(
    *, run_id: int, worker: str, now: datetime, task_id: str | None = None
) -> JobRun | None:
    """Move queued -> in_progress; the claimed run for exactly one caller, else None.

    One statement: `UPDATE ... WHERE status = 'queued' RETURNING *` both claims
    the run and reads what the worker needs to execute it. `task_id` is the
    message executing it, recorded so that cancel revokes that message (with
    several runs per message it is not the id the run was queued with).
    """
    for _ in range(CLAIM_TRIES):
        try:
            with _one_statement():
                return statements.claim(
                    run_id=run_id, worker=worker, now=now, task_id=task_id
                )
        except IntegrityError:
            # Another exclusive run of the schedule is in progress (the partial
            # unique index said no). Stay queued: its finish re-sends this one.
            if _wait_behind_running(run_id):
                logger.info("run %s waits for the schedule's running run", run_id)
                return None
    return None


def _wait_behind_running(run_id: int) -> bool:
    """Tell the schedule's running exclusive run that `run_id` waits for it.

    False when no run is in progress any more (it ended between our claim and
    now): the caller claims again instead of waiting for a finish already past.
    """
    schedule_id = JobRun.objects.filter(pk=run_id).values("schedule_id")
    return bool(
        JobRun.objects.filter(
            schedule_id=Subquery(schedule_id),
            exclusive=True,
            status=Status.IN_PROGRESS,
        ).update(has_waiter=True)
    )


def jobrun_finish(
    *,
    run_id: int,
    status: str,
    now: datetime,
    output: Any = None,
    log: str = "",
    error: str = "",
    traceback: str = "",
    result_file: str = "",
) -> bool:
    """Move in_progress -> a final status; False when the run was already ended."""
    outcome = {
        "output": output,
        "log": log,
        "error": error,
        "traceback": traceback,
        "result_file": result_file,
    }
    if _ends_in_one_statement(status):
        finished, _ = _finish_counted(
            run_id=run_id, status=status, now=now, outcome=outcome
        )
        if finished:
            return True
        # Already ended, or a run waits for this one: the general path says which.
    return _finish_in_transaction(run_id=run_id, status=status, now=now, **outcome)


class NextClaim(NamedTuple):
    """The next run of a message, to be claimed together with a finish."""

    run_id: int
    worker: str
    task_id: str | None


def jobrun_finish_and_claim(
    *,
    run_id: int,
    status: str,
    now: datetime,
    then: NextClaim,
    **outcome: Any,
) -> tuple[bool, JobRun | None]:
    """`jobrun_finish`, then `jobrun_claim` of `then` (claimed at `now`) if it finished.

    A worker executing a message of several runs ends one and starts the next:
    where it can, in ONE statement and so one commit per run instead of two
    (`statements.finish_counted`). Answers (finished, the next run if claimed).
    The next run is claimed only when this one finished: a run cancelled while
    it ran ends its message.
    """
    if _ends_in_one_statement(status):
        try:
            finished, claimed = _finish_counted(
                run_id=run_id, status=status, now=now, outcome=outcome, then=then
            )
        except IntegrityError:
            # The next run's exclusive slot is taken: nothing was written;
            # the plain claim below marks it waiting.
            finished, claimed = False, None
        if finished:
            return True, claimed
    if not _finish_in_transaction(run_id=run_id, status=status, now=now, **outcome):
        return False, None
    return True, jobrun_claim(
        run_id=then.run_id, worker=then.worker, now=now, task_id=then.task_id
    )


def jobrun_claimed_with_finish(*, then: NextClaim, now: datetime) -> JobRun | None:
    """The run `then` if a finish at `now` claimed it (`jobrun_finish_and_claim`).

    For a worker whose connection was cut around that statement: the claim
    committed or not, and a claimed run is no longer queued, so claiming again
    would leave it in_progress with nobody executing it.
    """
    return JobRun.objects.filter(
        pk=then.run_id, status=Status.IN_PROGRESS, started_at=now, worker=then.worker
    ).first()


def _finish_counted(
    *,
    run_id: int,
    status: str,
    now: datetime,
    outcome: dict[str, Any],
    then: NextClaim | None = None,
) -> tuple[bool, JobRun | None]:
    """`statements.finish_counted` with the schedules app's run-end counters."""
    return statements.finish_counted(
        run_id=run_id,
        status=status,
        now=now,
        outcome=outcome,
        count_end=schedule_run_end_sql,
        then=None if then is None else (then.run_id, then.worker, then.task_id),
    )


def _ends_in_one_statement(status: str) -> bool:
    """Whether a finish with `status` can be one autocommitted statement.

    PostgreSQL only (data-modifying CTEs), and only a success: a failure may
    queue a retry, which must commit with the finish. Inside a caller's
    transaction the general path keeps its savepoint.
    """
    from django.db import connection

    return (
        status == Status.SUCCEEDED
        and connection.vendor == "postgresql"
        and connection.get_autocommit()
    )


def _one_statement() -> Any:
    """A savepoint inside a caller's transaction; else nothing (autocommit).

    One statement commits on its own: atomic() around it would add BEGIN and
    COMMIT round trips to every run.
    """
    from django.db import connection

    if connection.get_autocommit():
        return contextlib.nullcontext()
    return transaction.atomic()


def _finish_in_transaction(
    *, run_id: int, status: str, now: datetime, **outcome: Any
) -> bool:
    with transaction.atomic():
        run = _update_returning(
            JobRun.objects.filter(pk=run_id, status=Status.IN_PROGRESS),
            {"status": status, "finished_at": now, **outcome},
        )
        if run is None:
            return False
        _after_end(run, now=now)
    return True


def jobrun_end_killed_at_hard_limit(*, run_id: int, now: datetime) -> bool:
    """End a run whose process the hard time limit killed as timed_out, log kept.

    The service ignored the soft limit (SoftTimeLimitExceeded) and was killed
    by the worker's parent process, so nothing in the child recorded the end.
    The log lines the heartbeat flushed to the row are kept and a last line says
    what happened. False when the run had already ended.
    """
    run = JobRun.objects.filter(pk=run_id, status=Status.IN_PROGRESS).first()
    if run is None:
        return False
    soft = run.time_limit_seconds
    hard = soft + settings.JOBRUN_HARD_LIMIT_GRACE_SECONDS
    message = (
        f"time limit of {soft} s exceeded; the service ignored it and was "
        f"killed at the hard limit of {hard} s"
    )
    log = f"{run.log}\n{message}" if run.log else message
    ended = jobrun_finish(
        run_id=run_id,
        status=Status.TIMED_OUT,
        now=now,
        log=log,
        error=message,
        output=run.output,
    )
    if ended:
        logger.warning("run %s killed at the hard time limit (%s s)", run_id, hard)
    return ended


def _update_returning(runs: QuerySet[JobRun], values: dict[str, Any]) -> JobRun | None:
    """`runs.update(**values)` that also answers the one updated row, or None.

    update() answers a count only, and the row is needed at once (the worker
    executes it, the finish bookkeeping reads it): a second SELECT would add a
    statement to every run. So Django's own UPDATE compiler writes the statement
    (values adapted as update() would) and RETURNING reads the row back, with
    Django's converters; PostgreSQL and SQLite >= 3.35 both support it.
    """
    from django.db import connection
    from django.db.models import sql

    query = cast(sql.UpdateQuery, runs.query.chain(sql.UpdateQuery))
    query.add_update_values(values)
    statement, params = query.get_compiler(connection=connection).as_sql()
    fields = JobRun._meta.concrete_fields
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    with connection.cursor() as cursor:
        cursor.execute(f"{statement} RETURNING {columns}", params)
        row = cursor.fetchone()
    return None if row is None else statements.from_row(row)


def _after_end(run: JobRun, *, now: datetime, release: bool | None = None) -> None:
    """Bookkeeping when a run left in_progress: counters, retry, the next waiter.

    The waiting run is looked for only when one said it waits (has_waiter), so a
    run nobody waited for ends in two statements plus the counters.
    """
    if run.schedule_id is None:
        return
    from schedules.services import schedule_record_run_end

    schedule_record_run_end(
        schedule_id=run.schedule_id, started_at=run.started_at or now
    )
    if run.status in (Status.FAILED, Status.TIMED_OUT):
        jobrun_retry(run=run, now=now)
    if run.has_waiter if release is None else release:
        _release_waiting(schedule_id=run.schedule_id, now=now)


def _release_waiting(*, schedule_id: int, now: datetime) -> None:
    """Re-send the oldest run that waited for the exclusive slot, now free."""
    waiting = (
        JobRun.objects.filter(
            schedule_id=schedule_id, status=Status.QUEUED, exclusive=True
        )
        .filter(Q(not_before__isnull=True) | Q(not_before__lte=now))
        .order_by("queued_at", "id")
        .first()
    )
    if waiting is not None:
        JobRun.objects.filter(pk=waiting.pk).update(sent_at=now)
        _send_on_commit(waiting, now=now)


def jobrun_cancel(
    *, run: JobRun, by: AbstractBaseUser | str | None = None, now: datetime
) -> bool:
    """Cancel a queued or running run (a running one is revoked with terminate)."""
    label = by if isinstance(by, str) else (by.get_username() if by else "")
    ended = {"status": Status.CANCELLED, "finished_at": now}
    ended["error"] = f"cancelled by {label}" if label else "cancelled"
    runs = JobRun.objects.filter(pk=run.pk)
    with transaction.atomic():
        before = run.status
        revoke = False
        if not runs.filter(status=Status.QUEUED).update(**ended):
            if not runs.filter(status=Status.IN_PROGRESS).update(**ended):
                return False
            revoke = True
        # Read back celery_task_id too: the claim recorded the message that
        # executes the run, which `run` (loaded earlier) may not know.
        run.refresh_from_db(fields=["status", "finished_at", "error", "celery_task_id"])
        if revoke:
            _revoke_on_commit(run.celery_task_id)
        changes = {"status": [before, Status.CANCELLED]}
        audit_record(action=Action.CANCEL, obj=run, by=by, changes=changes, now=now)
        if run.schedule_id is not None:
            _release_waiting(schedule_id=run.schedule_id, now=now)
    return True


def _revoke_on_commit(task_id: str) -> None:
    from celery import current_app as app  # the site's app; jobruns imports no site

    # terminate=True kills the pool process running it; the run is already
    # cancelled in the database, so whatever the worker does next is a no-op.
    publish_on_commit(
        lambda: app.control.revoke(task_id, terminate=True, signal="SIGTERM"),
        what=f"revoke of task {task_id}",
    )


def jobrun_retry(*, run: JobRun, now: datetime) -> JobRun | None:
    """Queue the next attempt of a failed run if its schedule allows one.

    Each attempt is its own run linked to the first; the delay doubles per
    attempt (retry_delay_seconds, then twice that, ...).
    """
    schedule = run.schedule
    if schedule is None or run.attempt > schedule.max_retries:
        return None
    delay = schedule.retry_delay_seconds * 2 ** (run.attempt - 1)
    try:
        with transaction.atomic():
            return jobrun_enqueue(
                schedule=schedule,
                service=run.service,
                trigger=Trigger.RETRY,
                args=run.args,
                input_override=run.input,
                by="retry",
                scheduled_for=run.scheduled_for,
                now=now,
                attempt=run.attempt + 1,
                retry_of=run.retry_of or run,
                not_before=now + timedelta(seconds=delay),
            )
    except IntegrityError:
        # jobrun_attempt_once: this attempt was already queued by someone else.
        return None
    except ValidationError as exc:
        logger.warning("run %s not retried: %s", run.pk, exc)
        return None


RETRYABLE = (Status.FAILED, Status.TIMED_OUT, Status.CANCELLED)


def jobrun_rerun(
    *, run: JobRun, by: AbstractBaseUser | str | None, now: datetime
) -> JobRun:
    """Queue the next attempt of an ended, unsuccessful run now, as a person asked.

    Unlike `jobrun_retry` neither max_retries nor the retry delay applies; the
    overlap policy does (RunRefused). Raises RunNotRetryable for a run that is
    still active, succeeded or was skipped.
    """
    if run.status not in RETRYABLE:
        raise RunNotRetryable(
            f"run #{run.pk} is {run.status}; only failed, timed out or cancelled "
            "runs can be retried",
            code=NOT_RETRYABLE,
        )
    first = run.retry_of or run
    latest = JobRun.objects.filter(Q(pk=first.pk) | Q(retry_of=first)).aggregate(
        Max("attempt")
    )["attempt__max"]
    with transaction.atomic():
        new = jobrun_enqueue(
            schedule=run.schedule,
            service=run.service,
            trigger=Trigger.RETRY,
            args=run.args,
            input_override=run.input,
            extra=run.extra,
            by=by,
            scheduled_for=run.scheduled_for,
            now=now,
            attempt=(latest or run.attempt) + 1,
            retry_of=first,
            correlation_id=run.correlation_id,
            asked=True,
        )
        audit_record(
            action=Action.RETRY,
            obj=run,
            by=by,
            changes={"retry": [None, new.pk], "attempt": [run.attempt, new.attempt]},
            now=now,
        )
    return new


def jobrun_execute(
    *,
    run_id: int,
    worker: str,
    in_process: bool = False,
    task_id: str | None = None,
) -> str | None:
    """Claim and execute a run; its final status, or None if another owns it."""
    # Execution (threads, signals, the service call) lives in its own module.
    from jobruns.runner import execute

    return execute(run_id=run_id, worker=worker, in_process=in_process, task_id=task_id)


def jobrun_execute_many(*, run_ids: Sequence[int], worker: str, task_id: str) -> int:
    """Claim and execute the runs of one message in turn; how many ran here.

    Runs another delivery claimed are passed over; after a slice of
    JOBRUN_MESSAGE_SLICE_SECONDS the rest goes back to the queue.
    """
    from jobruns.runner import execute_many

    return execute_many(run_ids=run_ids, worker=worker, task_id=task_id)


def jobrun_end_killed_message(
    *, run_ids: Sequence[int], task_id: str, now: datetime
) -> None:
    """The worker killed a message of several runs at its hard limit.

    End the run it was executing (the one its claim stamped with the message's
    task id) as timed out, and send the runs it had not reached again.
    """
    killed = JobRun.objects.filter(
        pk__in=run_ids, status=Status.IN_PROGRESS, celery_task_id=task_id
    ).values_list("pk", flat=True)
    for run_id in killed:
        jobrun_end_killed_at_hard_limit(run_id=run_id, now=now)
    jobrun_resend_queued(run_ids=run_ids, now=now)


# --- the reaper -----------------------------------------------------------------
def jobrun_requeue_stale(
    *, now: datetime, older_than: float | None = None, only: list[int] | None = None
) -> int:
    """Re-send queued runs whose message was sent `older_than` seconds ago or more.

    A lost broker message (broker restarted or flushed) leaves a run queued for
    ever; the database still knows it, so send it again. A duplicate delivery is
    harmless: only one claim wins.
    """
    seconds = older_than
    if seconds is None:
        seconds = settings.JOBRUN_REQUEUE_AFTER_SECONDS
    if only is None and _runs_backlog() != 0:
        # Messages still wait in the queue: the stale runs are most likely
        # among them, and a copy would land behind them anyway. Re-send once
        # the queue has drained, when a run still queued was really lost.
        return 0
    cutoff = now - timedelta(seconds=seconds)
    stale = (
        JobRun.objects.filter(status=Status.QUEUED, sent_at__lte=cutoff)
        .filter(Q(not_before__isnull=True) | Q(not_before__lte=cutoff))
        .order_by("sent_at")
    )
    if only is not None:
        stale = stale.filter(pk__in=only)
    count = 0
    for run in stale[:BATCH]:
        with transaction.atomic():
            # Conditional on the old sent_at: two reapers re-send a run once.
            if JobRun.objects.filter(
                pk=run.pk, status=Status.QUEUED, sent_at=run.sent_at
            ).update(sent_at=now):
                _send_on_commit(run, now=now)
                count += 1
    if count:
        logger.warning("re-sent %d queued runs whose message was not consumed", count)
    return count


def _runs_backlog() -> int | None:
    """Messages waiting in the runs queue (None when the broker cannot say).

    A passive declare answers the queue's length on Redis and AMQP alike (kombu
    counts the list on Redis); a broker that is down re-sends nothing, since
    nothing could be sent.
    """
    from jobruns.tasks import execute_run

    app = execute_run.app
    queue = app.conf.task_default_queue
    from amqp.exceptions import ChannelError

    try:
        with app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            return int(conn.default_channel.queue_declare(queue, passive=True)[1])
    except ChannelError:
        # A passive declare of a queue that does not exist (never declared,
        # or flushed away with its messages): nothing waits in it.
        return 0
    except Exception as exc:  # kombu raises many types; all mean "cannot say"
        logger.warning("cannot read the runs queue: %s", exc)
        return None


def jobrun_reap_lost(*, now: datetime) -> int:
    """End in_progress runs whose worker stopped heart-beating as failed; retry them."""
    cutoff = now - timedelta(seconds=settings.JOBRUN_HEARTBEAT_TIMEOUT_SECONDS)
    lost = JobRun.objects.filter(
        status=Status.IN_PROGRESS, heartbeat_at__lt=cutoff
    ).order_by("heartbeat_at")[:BATCH]
    count = 0
    for run in lost:
        with transaction.atomic():
            changed = JobRun.objects.filter(
                pk=run.pk, status=Status.IN_PROGRESS, heartbeat_at__lt=cutoff
            ).update(
                status=Status.FAILED,
                finished_at=now,
                error=f"worker lost: no heartbeat from {run.worker or 'its worker'} "
                f"since {run.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC",
            )
            if changed:
                run.refresh_from_db()
                _after_end(run, now=now, release=True)
                count += 1
    if count:
        logger.warning("%d runs ended as failed: worker lost", count)
    return count


# --- retention ------------------------------------------------------------------
def jobrun_prune(*, now: datetime) -> int:
    """Delete finished runs beyond each schedule's retention, with their files."""
    from schedules.models import Schedule

    deleted = 0
    kept = Schedule.objects.filter(
        Q(keep_runs_days__isnull=False) | Q(keep_runs_count__isnull=False)
    )
    for schedule in kept.only("pk", "keep_runs_days", "keep_runs_count"):
        finished = JobRun.objects.filter(schedule=schedule, status__in=JobRun.FINISHED)
        doomed: set[int] = set()
        if schedule.keep_runs_days is not None:
            cutoff = now - timedelta(days=schedule.keep_runs_days)
            doomed.update(
                finished.filter(queued_at__lt=cutoff).values_list("pk", flat=True)
            )
        if schedule.keep_runs_count is not None:
            newest_first = finished.order_by("-queued_at", "-id")
            doomed.update(
                newest_first.values_list("pk", flat=True)[schedule.keep_runs_count :]
            )
        deleted += _delete_runs(doomed)
    adhoc_cutoff = now - timedelta(days=settings.JOBRUN_KEEP_ADHOC_DAYS)
    deleted += _delete_runs(
        JobRun.objects.filter(
            schedule__isnull=True,
            status__in=JobRun.FINISHED,
            queued_at__lt=adhoc_cutoff,
        ).values_list("pk", flat=True)
    )
    return deleted


def _delete_runs(ids: Iterable[int]) -> int:
    ids = list(ids)
    deleted = 0
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        with transaction.atomic():
            files = [
                name
                for name in JobRun.objects.filter(pk__in=chunk).values_list(
                    "result_file", flat=True
                )
                if name
            ]
            deleted += JobRun.objects.filter(pk__in=chunk).delete()[0]
            # Files go after commit: a rolled-back delete must not lose them.
            transaction.on_commit(partial(_delete_files, files))
    return deleted


def _delete_files(names: list[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            logger.warning("could not delete result file %s", name)
