"""A message's runs end and start in one statement each (`jobrun_finish_and_claim`).

Outside a transaction (as in a worker) a run's finish, its schedule's run-end
counters and the claim of the message's next run are ONE autocommitted
statement: one commit per run (PostgreSQL; SQLite takes the general path, and
every test but the statement count holds there too). These tests use committed
transactions (`transaction=True`): inside a test's transaction the general path runs.
"""

from __future__ import annotations

import itertools
from typing import Any
from unittest import mock

import pytest
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jobruns import runner
from jobruns.models import JobRun
from jobruns.runner import Outcome, execute_many
from jobruns.services import (
    jobrun_cancel,
    jobrun_claim,
    jobrun_finish,
    jobrun_finish_and_claim,
)
from schedules.models import Schedule
from tests.jobruns.test_bulk_messages import _due_now, _queued, _statuses

Status = JobRun.Status
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _one_slice(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.JOBRUN_MESSAGE_SLICE_SECONDS = 60
    monkeypatch.setattr(runner, "FINISH_FIRST_BACKOFF", 0)


def _ids(runs: list[JobRun]) -> list[int]:
    return [run.pk for run in runs]


@pytest.mark.requires_postgres  # SQLite: no data-modifying CTEs, the general path
def test_a_message_of_five_runs_costs_one_statement_and_one_commit_per_run() -> None:
    [schedule] = _due_now(1)
    runs = _queued(5, schedule=schedule)

    with CaptureQueriesContext(connection) as queries:
        assert execute_many(run_ids=_ids(runs), worker="w", task_id="m-1") == 5

    statements = [q["sql"] for q in queries.captured_queries]
    # The first claim alone, then one statement per run: its finish, its
    # counters and the next run's claim. No BEGIN/COMMIT round trips.
    assert len(statements) == 1 + 5, statements
    assert _statuses(runs) == [Status.SUCCEEDED] * 5
    assert set(
        JobRun.objects.filter(pk__in=_ids(runs)).values_list("celery_task_id", "worker")
    ) == {("m-1", "w")}


def test_the_schedule_counts_each_run_that_ended_with_the_next_ones_claim() -> None:
    [schedule] = _due_now(1)
    runs = _queued(4, schedule=schedule)

    execute_many(run_ids=_ids(runs), worker="w", task_id="m-1")

    schedule.refresh_from_db()
    last = JobRun.objects.get(pk=runs[-1].pk)
    assert schedule.run_count == 4
    assert schedule.last_run_at == last.started_at
    # Each claim happened at its predecessor's finish, never before it.
    ended = list(JobRun.objects.filter(pk__in=_ids(runs)).order_by("pk"))
    for before, after in itertools.pairwise(ended):
        assert after.started_at == before.finished_at


def test_runs_of_one_exclusive_schedule_follow_each_other_in_one_statement() -> None:
    # The finished run leaves the exclusive slot in the same statement that
    # the next run takes it: the partial unique index must not refuse that.
    [schedule] = _due_now(1)
    runs = _queued(3, schedule=schedule)
    JobRun.objects.filter(pk__in=_ids(runs)).update(exclusive=True)

    assert execute_many(run_ids=_ids(runs), worker="w", task_id="m-1") == 3

    assert _statuses(runs) == [Status.SUCCEEDED] * 3
    schedule.refresh_from_db()
    assert schedule.run_count == 3


def test_a_next_run_whose_slot_is_taken_waits_and_the_finish_still_counts_once() -> (
    None
):
    # Run b's exclusive slot is held by run c of another worker: the combined
    # statement fails as a whole; a's finish is written on its own (counted
    # once) and b stays queued, marked as c's waiter.
    first, exclusive = _due_now(2)
    [a] = _queued(1, schedule=first)
    b, c = _queued(2, schedule=exclusive)
    JobRun.objects.filter(pk__in=[b.pk, c.pk]).update(exclusive=True)
    assert jobrun_claim(run_id=c.pk, worker="other", now=timezone.now())

    assert execute_many(run_ids=[a.pk, b.pk], worker="w", task_id="m-1") == 1

    assert _statuses([a, b, c]) == [Status.SUCCEEDED, Status.QUEUED, Status.IN_PROGRESS]
    assert JobRun.objects.get(pk=c.pk).has_waiter
    counts = dict(
        Schedule.objects.filter(pk__in=[first.pk, exclusive.pk]).values_list(
            "pk", "run_count"
        )
    )
    assert counts == {first.pk: 1, exclusive.pk: 0}


def test_a_cut_after_the_finish_and_claim_committed_still_executes_the_next_run() -> (
    None
):
    # The server committed the statement and the connection broke before the
    # answer: the worker must find the next run claimed by itself and run it,
    # not claim it again (it is no longer queued) and leave it in_progress.
    [schedule] = _due_now(1)
    runs = _queued(2, schedule=schedule)
    calls: list[int] = []

    def commit_then_cut(**kwargs: Any) -> Any:
        answer = jobrun_finish_and_claim(**kwargs)
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return answer

    with mock.patch.object(
        runner, "jobrun_finish_and_claim", side_effect=commit_then_cut
    ):
        assert execute_many(run_ids=_ids(runs), worker="w", task_id="m-1") == 2

    assert _statuses(runs) == [Status.SUCCEEDED] * 2
    schedule.refresh_from_db()
    assert schedule.run_count == 2


def test_a_cut_before_the_finish_and_claim_reached_the_server_writes_both_after() -> (
    None
):
    [schedule] = _due_now(1)
    runs = _queued(2, schedule=schedule)
    calls: list[int] = []

    def cut_then_write(**kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return jobrun_finish_and_claim(**kwargs)

    with mock.patch.object(
        runner, "jobrun_finish_and_claim", side_effect=cut_then_write
    ):
        assert execute_many(run_ids=_ids(runs), worker="w", task_id="m-1") == 2

    assert _statuses(runs) == [Status.SUCCEEDED] * 2
    schedule.refresh_from_db()
    assert schedule.run_count == 2


def test_a_run_cancelled_while_it_ran_leaves_the_next_run_unclaimed() -> None:
    # The cancel revokes this message: whatever the slot claimed next would be
    # terminated with it. The finish that finds the run cancelled claims nothing.
    runs = _queued(2)

    def cancel_first(run: JobRun, *args: Any, **kwargs: Any) -> Any:
        with mock.patch("jobruns.services._revoke_on_commit"):
            jobrun_cancel(run=runs[0], by="ops", now=timezone.now())
        return Outcome(Status.SUCCEEDED), None

    with (
        mock.patch("jobruns.runner._call", side_effect=cancel_first),
        mock.patch("jobruns.tasks.execute_runs.apply_async"),
        mock.patch("jobruns.tasks.execute_run.apply_async") as sent,
    ):
        execute_many(run_ids=_ids(runs), worker="w", task_id="m-1")

    assert _statuses(runs) == [Status.CANCELLED, Status.QUEUED]
    # Given back: sent again as a message of its own.
    assert sent.call_args.kwargs["args"] == [runs[1].pk]


def test_a_failed_run_queues_its_retry_with_its_finish_and_the_next_run_runs() -> None:
    # A failure takes the general path (its retry commits with its end), and
    # the next run is then claimed on its own.
    [schedule] = _due_now(1, max_retries=1, retry_delay_seconds=60)
    runs = _queued(2, schedule=schedule)
    outcomes = iter([Outcome(Status.FAILED, error="boom"), Outcome(Status.SUCCEEDED)])

    with (
        mock.patch(
            "jobruns.runner._call", side_effect=lambda *a, **k: (next(outcomes), None)
        ),
        mock.patch("jobruns.tasks.execute_run.apply_async"),
    ):
        assert execute_many(run_ids=_ids(runs), worker="w", task_id="m-1") == 2

    assert _statuses(runs) == [Status.FAILED, Status.SUCCEEDED]
    assert JobRun.objects.filter(retry_of=runs[0].pk, status=Status.QUEUED).count() == 1
    schedule.refresh_from_db()
    assert schedule.run_count == 2


def test_a_finish_with_a_waiting_run_releases_it_in_the_same_transaction() -> None:
    # Run b waits for a's exclusive slot (has_waiter on a): the one-statement
    # finish leaves such a run to the general path, which sends b again.
    [schedule] = _due_now(1)
    a, b = _queued(2, schedule=schedule)
    JobRun.objects.filter(pk__in=[a.pk, b.pk]).update(exclusive=True)
    assert jobrun_claim(run_id=a.pk, worker="w", now=timezone.now())
    assert jobrun_claim(run_id=b.pk, worker="other", now=timezone.now()) is None

    with mock.patch("jobruns.tasks.execute_run.apply_async") as sent:
        assert jobrun_finish(run_id=a.pk, status=Status.SUCCEEDED, now=timezone.now())

    assert sent.call_args.kwargs["args"] == [b.pk]
    schedule.refresh_from_db()
    assert schedule.run_count == 1
