"""Several runs per message (`jobruns.execute_runs`): what a burst is sent as.

The dispatcher sends a batch's runs up to JOBRUN_RUNS_PER_MESSAGE per message.
The database stays the source of truth: every claim is conditional, so a
message whose runs were claimed already does nothing, and a slot gives back
what it has not reached once its slice is spent.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jobruns.dispatcher import dispatch_due
from jobruns.models import JobRun
from jobruns.runner import execute_many
from jobruns.services import (
    jobrun_cancel,
    jobrun_claim,
    jobrun_end_killed_message,
    jobrun_enqueue,
)
from jobruns.tasks import execute_runs
from schedules.models import Schedule
from schedules.services import schedule_create
from tests.support.services import wait_for

Status = JobRun.Status
CONTROL = ("SAVEPOINT", "RELEASE SAVEPOINT", "BEGIN", "COMMIT")


def _due_now(count: int, **fields: Any) -> list[Schedule]:
    """`count` interval schedules due a moment ago, made through the service."""
    now = timezone.now()
    made = []
    for i in range(count):
        data: dict[str, Any] = {
            "name": f"bulk-{i}-{fields.get('target', 'core.echo')}",
            "kind": "interval",
            "interval_hours": 1,
            "start_at": now - timedelta(seconds=1),
            "target": "core.echo",
            "overlap_policy": "allow",
        }
        data.update(fields)
        made.append(schedule_create(data=data, by=None, now=now, allow_past=True))
    # Due at its start, a second ago (created "now", its first fire is ahead).
    Schedule.objects.filter(pk__in=[s.pk for s in made]).update(
        next_run_at=now - timedelta(seconds=1)
    )
    return made


def _queued(count: int, **fields: Any) -> list[JobRun]:
    """`count` queued runs whose messages are not sent (the test sends them)."""
    with (
        mock.patch("jobruns.tasks.execute_run.apply_async"),
        mock.patch("jobruns.tasks.execute_runs.apply_async"),
    ):
        return [
            jobrun_enqueue(
                schedule=fields.get("schedule"),
                service=fields.get("service", "core.echo"),
                input_override=fields.get("input", {}),
                trigger="api",
                now=timezone.now(),
            )
            for _ in range(count)
        ]


def _statuses(runs: list[JobRun]) -> list[str]:
    by_pk = dict(
        JobRun.objects.filter(pk__in=[r.pk for r in runs]).values_list("pk", "status")
    )
    return [by_pk[run.pk] for run in runs]


# --- in this process --------------------------------------------------------------
@pytest.mark.django_db
def test_a_message_of_five_runs_costs_three_statements_per_run(
    settings: Any,
) -> None:
    settings.JOBRUN_MESSAGE_SLICE_SECONDS = 60
    [schedule] = _due_now(1)
    runs = _queued(5, schedule=schedule)

    with CaptureQueriesContext(connection) as queries:
        assert (
            execute_many(run_ids=[r.pk for r in runs], worker="w", task_id="m-1") == 5
        )

    statements = [q["sql"] for q in queries.captured_queries]
    work = [sql for sql in statements if not sql.startswith(CONTROL)]
    # claim (UPDATE ... RETURNING), finish (UPDATE ... RETURNING) and the
    # schedule's counters per run; nothing per message.
    assert len(work) == 3 * 5, work
    assert _statuses(runs) == [Status.SUCCEEDED] * 5
    assert set(
        JobRun.objects.filter(pk__in=[r.pk for r in runs]).values_list(
            "celery_task_id", flat=True
        )
    ) == {"m-1"}, "each claim records the message that executed it"


@pytest.mark.django_db
def test_a_message_whose_runs_were_claimed_already_runs_nothing(settings: Any) -> None:
    runs = _queued(3)
    ids = [r.pk for r in runs]
    assert execute_many(run_ids=ids, worker="first", task_id="m-1") == 3

    with mock.patch("jobruns.runner._call") as call:
        assert execute_many(run_ids=ids, worker="second", task_id="m-2") == 0

    call.assert_not_called()
    assert set(
        JobRun.objects.filter(pk__in=ids).values_list("worker", "celery_task_id")
    ) == {("first", "m-1")}


@pytest.mark.django_db
def test_a_slot_gives_back_the_runs_it_did_not_reach_once_its_slice_is_spent(
    settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.JOBRUN_MESSAGE_SLICE_SECONDS = 1
    slow = _queued(1, service="core.sleep", input={"seconds": 1.1})
    rest = _queued(3)
    ids = [r.pk for r in slow + rest]
    JobRun.objects.filter(pk=rest[1].pk).update(status=Status.CANCELLED)

    with (
        mock.patch("jobruns.tasks.execute_runs.apply_async") as sent,
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert execute_many(run_ids=ids, worker="w", task_id="m-1") == 1

    assert _statuses(slow + rest) == [
        Status.SUCCEEDED,
        Status.QUEUED,
        Status.CANCELLED,
        Status.QUEUED,
    ]
    # One new message with the runs still queued, under a task id of its own.
    [call] = sent.call_args_list
    assert call.kwargs["args"] == [[rest[0].pk, rest[2].pk]]
    assert call.kwargs["task_id"] != "m-1"


@pytest.mark.django_db
def test_a_run_cancelled_while_it_ran_ends_its_message(
    settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.JOBRUN_MESSAGE_SLICE_SECONDS = 60
    runs = _queued(3)

    def cancel_first(run: JobRun, *args: Any, **kwargs: Any) -> Any:
        with mock.patch("jobruns.services._revoke_on_commit") as revoke:
            jobrun_cancel(run=runs[0], by="ops", now=timezone.now())
        # The revoke names the message executing the run, not the run's own id.
        revoke.assert_called_once_with("m-1")
        from jobruns.runner import Outcome

        return Outcome(Status.SUCCEEDED), None

    with (
        mock.patch("jobruns.runner._call", side_effect=cancel_first),
        mock.patch("jobruns.tasks.execute_runs.apply_async") as sent,
        django_capture_on_commit_callbacks(execute=True),
    ):
        execute_many(run_ids=[r.pk for r in runs], worker="w", task_id="m-1")

    # The revoke would terminate whatever this slot ran next: the rest is sent
    # again in a message of its own instead.
    assert _statuses(runs) == [Status.CANCELLED, Status.QUEUED, Status.QUEUED]
    assert sent.call_args.kwargs["args"] == [[runs[1].pk, runs[2].pk]]


@pytest.mark.django_db
def test_a_message_killed_at_its_hard_limit_ends_its_running_run_and_resends_the_rest(
    django_capture_on_commit_callbacks: Any,
) -> None:
    done, killed, waiting = _queued(3)
    assert jobrun_claim(run_id=done.pk, worker="w", now=timezone.now(), task_id="m-1")
    JobRun.objects.filter(pk=done.pk).update(status=Status.SUCCEEDED)
    assert jobrun_claim(run_id=killed.pk, worker="w", now=timezone.now(), task_id="m-1")

    with (
        mock.patch("jobruns.tasks.execute_runs.apply_async") as several,
        mock.patch("jobruns.tasks.execute_run.apply_async") as one,
        django_capture_on_commit_callbacks(execute=True),
    ):
        jobrun_end_killed_message(
            run_ids=[done.pk, killed.pk, waiting.pk], task_id="m-1", now=timezone.now()
        )

    assert _statuses([done, killed, waiting]) == [
        Status.SUCCEEDED,
        Status.TIMED_OUT,
        Status.QUEUED,
    ]
    several.assert_not_called()
    assert one.call_args.kwargs["args"] == [waiting.pk]


# --- on a real worker ----------------------------------------------------------------
@pytest.mark.requires_postgres
@pytest.mark.requires_redis
@pytest.mark.requires_worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_a_dispatch_batch_sent_as_one_message(
    celery_worker: Any,
) -> None:
    schedules = _due_now(5)

    assert dispatch_due(now=timezone.now()) == 5

    runs = list(JobRun.objects.filter(schedule__in=schedules).order_by("pk"))
    wait_for(lambda: _statuses(runs) == [Status.SUCCEEDED] * 5, 30, "the five runs")
    executed = JobRun.objects.filter(pk__in=[r.pk for r in runs])
    # One message carried all five: each claim recorded that message's id.
    assert len(set(executed.values_list("celery_task_id", flat=True))) == 1
    log = celery_worker.log_path.read_text()
    for run in runs:
        assert log.count(f"run {run.pk} started:") == 1


@pytest.mark.requires_postgres
@pytest.mark.requires_redis
@pytest.mark.requires_worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_ignores_a_duplicate_message_and_shares_a_slow_one(
    start_worker: Any,
) -> None:
    worker = start_worker(
        concurrency=2, extra_env={"JOBRUN_MESSAGE_SLICE_SECONDS": "1"}
    )
    sleepers = _queued(3, service="core.sleep", input={"seconds": 1.2})
    ids = [r.pk for r in sleepers]

    execute_runs.apply_async(args=[ids])

    wait_for(lambda: _statuses(sleepers) == [Status.SUCCEEDED] * 3, 30, "the sleepers")
    # The first slot ran one sleeper, spent its slice and gave the rest back.
    messages = JobRun.objects.filter(pk__in=ids).values_list(
        "celery_task_id", flat=True
    )
    assert len(set(messages)) >= 2

    execute_runs.apply_async(args=[ids])  # a late duplicate, as a redelivery
    time.sleep(1.5)
    log = worker.log_path.read_text()
    for run_id in ids:
        assert log.count(f"run {run_id} started:") == 1, log[-3000:]


@pytest.mark.requires_postgres
@pytest.mark.requires_redis
@pytest.mark.requires_worker
@pytest.mark.django_db(transaction=True)
def test_each_run_of_a_message_gets_its_own_time_limit(
    start_worker: Any, settings: Any
) -> None:
    # The message's own (Celery) soft limit is then 1 + 60 s: a run that ends
    # timed out within the wait below was stopped by its own limit.
    settings.JOBRUN_MESSAGE_SLICE_SECONDS = 60
    start_worker(extra_env={"JOBRUN_MESSAGE_SLICE_SECONDS": "60"})
    [slow] = _due_now(
        1, target="core.sleep", input={"seconds": 30}, time_limit_seconds=1
    )
    [quick] = _due_now(1, time_limit_seconds=1)

    assert dispatch_due(now=timezone.now()) == 2

    runs = [slow.runs.get(), quick.runs.get()]
    wait_for(
        lambda: _statuses(runs) == [Status.TIMED_OUT, Status.SUCCEEDED],
        30,
        "the slow run to time out and the quick one to run after it",
    )
    timed_out = JobRun.objects.get(pk=runs[0].pk)
    assert timed_out.error == "time limit of 1 s exceeded"
    assert timed_out.celery_task_id == JobRun.objects.get(pk=runs[1].pk).celery_task_id


@pytest.mark.requires_postgres
@pytest.mark.requires_redis
@pytest.mark.requires_worker
@pytest.mark.django_db(transaction=True)
def test_cancelling_a_run_of_a_message_terminates_it_and_the_rest_still_runs(
    celery_worker: Any,
) -> None:
    [long] = _queued(1, service="core.sleep", input={"seconds": 30})
    behind = _queued(2)

    execute_runs.apply_async(args=[[long.pk, *(r.pk for r in behind)]])
    wait_for(lambda: _statuses([long]) == [Status.IN_PROGRESS], 20, "the long run")
    assert jobrun_cancel(run=long, by="ops", now=timezone.now())

    # No reaper runs in this test: only the worker giving the message's other
    # runs back can start them.
    wait_for(lambda: _statuses(behind) == [Status.SUCCEEDED] * 2, 20, "the runs behind")
    wait_for(lambda: "Terminating" in celery_worker.log(), 10, "the revoke")
    assert _statuses([long]) == [Status.CANCELLED]
