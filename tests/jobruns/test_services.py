"""Run lifecycle: enqueue, claim, execute, finish, cancel, retry, reaper, prune."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from jobruns.models import JobRun
from jobruns.services import (
    RunRefused,
    jobrun_cancel,
    jobrun_claim,
    jobrun_enqueue,
    jobrun_execute,
    jobrun_finish,
    jobrun_prune,
    jobrun_reap_lost,
    jobrun_requeue_stale,
    jobrun_retry,
)
from tests.jobruns.conftest import NOON, MakeSchedule

Status = JobRun.Status


@pytest.fixture
def sent() -> Any:
    """Messages that would go to the broker, captured instead of sent."""
    with mock.patch("jobruns.tasks.execute_run.apply_async") as apply_async:
        yield apply_async


def _queued(make_schedule: MakeSchedule, sent: Any, **fields: Any) -> JobRun:
    schedule = make_schedule(**fields)
    with transaction.atomic():
        return jobrun_enqueue(schedule=schedule, trigger="manual", now=NOON)


@pytest.mark.django_db(transaction=True)
def test_enqueue_snapshots_the_schedule_and_sends_the_task_after_commit(
    make_schedule: MakeSchedule, sent: Any
) -> None:
    schedule = make_schedule(input={"n": 1}, extra="raw text", correlation_id="c-1")

    with transaction.atomic():
        run = jobrun_enqueue(
            schedule=schedule, trigger="api", args=["a"], by="api:alice", now=NOON
        )
        assert not sent.called, "a task sent before commit could find no row"

    sent.assert_called_once()
    assert sent.call_args.kwargs["args"] == [run.pk]
    assert sent.call_args.kwargs["task_id"] == run.celery_task_id
    assert sent.call_args.kwargs["soft_time_limit"] == run.time_limit_seconds
    run.refresh_from_db()
    assert (run.status, run.input, run.extra, run.args) == (
        Status.QUEUED,
        {"n": 1},
        "raw text",
        ["a"],
    )
    assert (run.correlation_id, run.triggered_by_label) == ("c-1", "api:alice")


@pytest.mark.django_db
def test_enqueue_refuses_an_unknown_service_and_args_that_are_not_strings(
    sent: Any,
) -> None:
    with pytest.raises(ValidationError) as unknown:
        jobrun_enqueue(service="no.such", trigger="cli", now=NOON)
    with pytest.raises(ValidationError) as bad_args:
        jobrun_enqueue(service="core.echo", trigger="cli", args=[1], now=NOON)  # type: ignore[list-item]

    assert "service" in unknown.value.message_dict
    assert "args" in bad_args.value.message_dict


@pytest.mark.django_db
def test_enqueue_checks_the_input_against_the_services_schema(sent: Any) -> None:
    with pytest.raises(ValidationError, match="seconds"):
        jobrun_enqueue(
            service="core.sleep",
            trigger="cli",
            input_override={"seconds": "long"},
            now=NOON,
        )


@pytest.mark.django_db
def test_only_one_of_two_claims_of_a_run_wins(
    make_schedule: MakeSchedule, sent: Any
) -> None:
    run = _queued(make_schedule, sent)

    first = jobrun_claim(run_id=run.pk, worker="w1", now=NOON)
    second = jobrun_claim(run_id=run.pk, worker="w2", now=NOON)

    assert first is not None
    assert first.pk == run.pk
    assert second is None
    run.refresh_from_db()
    assert (run.status, run.worker, run.started_at) == (Status.IN_PROGRESS, "w1", NOON)


@pytest.mark.django_db
def test_finish_only_ends_a_run_in_progress(
    make_schedule: MakeSchedule, sent: Any
) -> None:
    run = _queued(make_schedule, sent)

    assert not jobrun_finish(run_id=run.pk, status=Status.SUCCEEDED, now=NOON)
    jobrun_claim(run_id=run.pk, worker="w", now=NOON)
    assert jobrun_finish(run_id=run.pk, status=Status.SUCCEEDED, now=NOON)
    assert not jobrun_finish(run_id=run.pk, status=Status.FAILED, now=NOON)

    run.refresh_from_db()
    assert run.status == Status.SUCCEEDED
    run.schedule.refresh_from_db()
    assert (run.schedule.run_count, run.schedule.last_run_at) == (1, NOON)


@pytest.mark.django_db
def test_executing_echo_records_output_log_and_success(sent: Any) -> None:
    run = jobrun_enqueue(
        service="core.echo",
        trigger="cli",
        args=["x"],
        input_override={"a": 1},
        now=NOON,
    )

    status = jobrun_execute(run_id=run.pk, worker="here", in_process=True)

    run.refresh_from_db()
    assert status == run.status == Status.SUCCEEDED
    assert run.output == {"input": {"a": 1}, "args": ["x"], "extra": ""}
    assert "echo with 1 args" in run.log
    assert run.finished_at is not None


@pytest.mark.django_db
def test_a_raising_service_fails_with_its_traceback(sent: Any) -> None:
    run = jobrun_enqueue(
        service="core.fail", trigger="cli", input_override={"message": "boom"}, now=NOON
    )

    assert jobrun_execute(run_id=run.pk, worker="here") == Status.FAILED

    run.refresh_from_db()
    assert run.error == "RuntimeError: boom"
    assert "Traceback" in run.traceback


@pytest.mark.django_db
def test_a_run_past_its_soft_time_limit_ends_timed_out(sent: Any) -> None:
    run = jobrun_enqueue(
        service="core.sleep", trigger="cli", input_override={"seconds": 5}, now=NOON
    )
    JobRun.objects.filter(pk=run.pk).update(time_limit_seconds=1)

    assert jobrun_execute(run_id=run.pk, worker="here", in_process=True) == (
        Status.TIMED_OUT
    )


@pytest.mark.django_db
def test_a_second_delivery_of_a_finished_run_does_nothing(sent: Any) -> None:
    run = jobrun_enqueue(service="core.echo", trigger="cli", now=NOON)
    jobrun_execute(run_id=run.pk, worker="first")

    assert jobrun_execute(run_id=run.pk, worker="second") is None
    run.refresh_from_db()
    assert run.worker == "first"


@pytest.mark.django_db
def test_cancel_ends_a_queued_run_without_revoking(
    make_schedule: MakeSchedule, sent: Any
) -> None:
    run = _queued(make_schedule, sent)

    with mock.patch("scheduler_site.celery.app.control.revoke") as revoke:
        assert jobrun_cancel(run=run, by="ops", now=NOON)
    assert not jobrun_cancel(run=run, by="ops", now=NOON)

    run.refresh_from_db()
    assert (run.status, run.error) == (Status.CANCELLED, "cancelled by ops")
    revoke.assert_not_called()


@pytest.mark.django_db(transaction=True)
def test_cancel_of_a_running_run_revokes_its_task_with_terminate(
    make_schedule: MakeSchedule, sent: Any
) -> None:
    run = _queued(make_schedule, sent)
    jobrun_claim(run_id=run.pk, worker="w", now=NOON)

    with mock.patch("scheduler_site.celery.app.control.revoke") as revoke:
        assert jobrun_cancel(run=run, now=NOON)

    revoke.assert_called_once_with(run.celery_task_id, terminate=True, signal="SIGTERM")
    assert not jobrun_finish(run_id=run.pk, status=Status.SUCCEEDED, now=NOON)


@pytest.mark.django_db
def test_a_failed_run_is_retried_with_exponential_backoff_linked_to_the_first(
    make_schedule: MakeSchedule, sent: Any
) -> None:
    first = _queued(
        make_schedule, sent, target="core.fail", max_retries=2, retry_delay_seconds=10
    )

    jobrun_execute(run_id=first.pk, worker="w")
    second = JobRun.objects.get(retry_of=first)
    JobRun.objects.filter(pk=second.pk).update(not_before=None)
    jobrun_execute(run_id=second.pk, worker="w")
    third = JobRun.objects.get(retry_of=first, attempt=3)
    JobRun.objects.filter(pk=third.pk).update(not_before=None)
    jobrun_execute(run_id=third.pk, worker="w")

    assert (second.attempt, second.trigger) == (2, JobRun.Trigger.RETRY)
    assert second.not_before - second.queued_at == timedelta(seconds=10)
    assert third.not_before - third.queued_at == timedelta(seconds=20)
    assert JobRun.objects.filter(retry_of=first).count() == 2, "no 4th attempt"


@pytest.mark.django_db
def test_a_run_is_retried_once_per_attempt_even_when_asked_twice(
    make_schedule: MakeSchedule, sent: Any
) -> None:
    run = _queued(make_schedule, sent, target="core.fail", max_retries=3)
    jobrun_execute(run_id=run.pk, worker="w")
    run.refresh_from_db()

    assert jobrun_retry(run=run, now=NOON) is None
    assert JobRun.objects.filter(retry_of=run).count() == 1


@pytest.mark.django_db
def test_one_exclusive_run_per_schedule_can_be_in_progress_by_constraint(
    make_schedule: MakeSchedule, sent: Any
) -> None:
    schedule = make_schedule(overlap_policy="queue_one")
    first = jobrun_enqueue(schedule=schedule, trigger="manual", now=NOON)
    jobrun_claim(run_id=first.pk, worker="w", now=NOON)
    waiting = jobrun_enqueue(schedule=schedule, trigger="manual", now=NOON)

    assert not jobrun_claim(run_id=waiting.pk, worker="w", now=NOON)
    with pytest.raises(IntegrityError), transaction.atomic():
        JobRun.objects.filter(pk=waiting.pk).update(status=Status.IN_PROGRESS)

    sent.reset_mock()
    jobrun_finish(run_id=first.pk, status=Status.SUCCEEDED, now=NOON)
    assert jobrun_claim(run_id=waiting.pk, worker="w", now=NOON)


@pytest.mark.django_db
def test_run_now_is_refused_while_a_skip_schedule_is_busy(
    make_schedule: MakeSchedule, sent: Any
) -> None:
    schedule = make_schedule(overlap_policy="skip")
    jobrun_enqueue(schedule=schedule, trigger="manual", now=NOON)

    with pytest.raises(RunRefused, match="overlap policy is 'skip'"):
        jobrun_enqueue(schedule=schedule, trigger="manual", now=NOON)


@pytest.mark.django_db
def test_requeue_resends_only_runs_whose_message_is_older_than_the_limit(
    make_schedule: MakeSchedule, sent: Any, settings: Any, monkeypatch: Any
) -> None:
    settings.JOBRUN_REQUEUE_AFTER_SECONDS = 30
    # An empty broker queue: whatever is stale was lost (see test_real_worker
    # for the backlog that must not be re-sent).
    monkeypatch.setattr("jobruns.services._runs_backlog", lambda: 0)
    old = _queued(make_schedule, sent, overlap_policy="allow")
    fresh = jobrun_enqueue(
        schedule=old.schedule, trigger="manual", now=NOON + timedelta(seconds=20)
    )
    sent.reset_mock()

    count = jobrun_requeue_stale(now=NOON + timedelta(seconds=31))

    assert count == 1
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert old.sent_at == NOON + timedelta(seconds=31)
    assert fresh.sent_at == NOON + timedelta(seconds=20)
    assert jobrun_requeue_stale(now=NOON + timedelta(seconds=32)) == 0


@pytest.mark.django_db
def test_the_reaper_fails_a_silent_run_as_worker_lost_and_retries_it(
    make_schedule: MakeSchedule, sent: Any, settings: Any
) -> None:
    settings.JOBRUN_HEARTBEAT_TIMEOUT_SECONDS = 30
    run = _queued(make_schedule, sent, max_retries=1, retry_delay_seconds=1)
    jobrun_claim(run_id=run.pk, worker="gone@host", now=NOON)

    assert jobrun_reap_lost(now=NOON + timedelta(seconds=29)) == 0
    assert jobrun_reap_lost(now=NOON + timedelta(seconds=31)) == 1

    run.refresh_from_db()
    assert run.status == Status.FAILED
    assert run.error.startswith("worker lost: no heartbeat from gone@host")
    assert JobRun.objects.get(retry_of=run).status == Status.QUEUED


@pytest.mark.django_db(transaction=True)
def test_prune_keeps_the_newest_runs_and_removes_result_files(
    make_schedule: MakeSchedule, sent: Any
) -> None:
    schedule = make_schedule(
        target="reports.runs_csv", keep_runs_count=2, overlap_policy="allow"
    )
    runs = []
    for minute in range(4):
        run = jobrun_enqueue(
            schedule=schedule, trigger="manual", now=NOON + timedelta(minutes=minute)
        )
        jobrun_execute(run_id=run.pk, worker="w")
        runs.append(JobRun.objects.get(pk=run.pk))
    assert all(default_storage.exists(run.result_file.name) for run in runs)

    assert jobrun_prune(now=NOON + timedelta(days=1)) == 2

    assert set(JobRun.objects.values_list("pk", flat=True)) == {
        runs[2].pk,
        runs[3].pk,
    }
    assert not default_storage.exists(runs[0].result_file.name)
    assert default_storage.exists(runs[3].result_file.name)


@pytest.mark.django_db
def test_prune_by_age_spares_runs_still_active(
    make_schedule: MakeSchedule, sent: Any
) -> None:
    schedule = make_schedule(keep_runs_days=7, overlap_policy="allow")
    done = jobrun_enqueue(schedule=schedule, trigger="manual", now=NOON)
    jobrun_execute(run_id=done.pk, worker="w")
    active = jobrun_enqueue(schedule=schedule, trigger="manual", now=NOON)

    assert jobrun_prune(now=NOON + timedelta(days=8)) == 1
    assert list(JobRun.objects.values_list("pk", flat=True)) == [active.pk]


def _statements(queries: Any) -> list[str]:
    control = ("SAVEPOINT", "RELEASE SAVEPOINT", "BEGIN")
    return [
        query["sql"]
        for query in queries.captured_queries
        if not query["sql"].startswith(control)
    ]


@pytest.mark.django_db
def test_a_quick_run_of_a_schedule_costs_three_statements_on_the_worker(
    make_schedule: MakeSchedule, sent: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    run = _queued(make_schedule, sent)  # core.echo: logs a line, returns

    with CaptureQueriesContext(connection) as queries:
        assert jobrun_execute(run_id=run.pk, worker="w") == Status.SUCCEEDED

    claim, finish, counters = _statements(queries)
    assert claim.startswith("UPDATE")
    assert "RETURNING" in claim
    assert finish.startswith("UPDATE")
    assert "RETURNING" in finish
    assert counters.startswith('UPDATE "schedules_schedule"')
    run.refresh_from_db()
    assert (run.status, run.worker) == (Status.SUCCEEDED, "w")
    assert run.schedule.run_count == 1


@pytest.mark.django_db
def test_the_end_of_a_run_a_claim_waited_for_re_sends_the_waiting_run(
    make_schedule: MakeSchedule, sent: Any, django_capture_on_commit_callbacks: Any
) -> None:
    schedule = make_schedule(overlap_policy="queue_one")
    first = jobrun_enqueue(schedule=schedule, trigger="manual", now=NOON)
    jobrun_claim(run_id=first.pk, worker="w", now=NOON)
    waiting = jobrun_enqueue(schedule=schedule, trigger="manual", now=NOON)
    assert jobrun_claim(run_id=waiting.pk, worker="w", now=NOON) is None
    sent.reset_mock()

    with django_capture_on_commit_callbacks(execute=True):
        jobrun_finish(run_id=first.pk, status=Status.SUCCEEDED, now=NOON)

    [call] = sent.call_args_list
    assert call.kwargs["args"] == [waiting.pk]


@pytest.mark.django_db
def test_a_claim_that_finds_the_running_run_just_ended_claims_at_once(
    make_schedule: MakeSchedule, sent: Any
) -> None:
    schedule = make_schedule(overlap_policy="queue_one")
    first = jobrun_enqueue(schedule=schedule, trigger="manual", now=NOON)
    jobrun_claim(run_id=first.pk, worker="w", now=NOON)
    waiting = jobrun_enqueue(schedule=schedule, trigger="manual", now=NOON)
    from jobruns import services

    real_wait = services._wait_behind_running

    def finish_first_then_wait(run_id: int) -> bool:
        # The running run ends between the failed claim and the mark.
        JobRun.objects.filter(pk=first.pk).update(status=Status.SUCCEEDED)
        return real_wait(run_id)

    with mock.patch(
        "jobruns.services._wait_behind_running", side_effect=finish_first_then_wait
    ):
        claimed = jobrun_claim(run_id=waiting.pk, worker="w", now=NOON)

    assert claimed is not None
    assert claimed.pk == waiting.pk
