"""The runner keeps a finished run's outcome through a cut database connection."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from django.db import OperationalError

from jobruns import runner
from jobruns.models import JobRun
from jobruns.services import jobrun_enqueue, jobrun_execute, jobrun_finish
from tests.jobruns.conftest import NOON

Status = JobRun.Status


@pytest.fixture
def sent() -> Any:
    with mock.patch("jobruns.tasks.execute_run.apply_async") as apply_async:
        yield apply_async


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "FINISH_FIRST_BACKOFF", 0)


def _run() -> JobRun:
    return jobrun_enqueue(service="core.echo", trigger="cli", now=NOON)


@pytest.mark.django_db(transaction=True)
def test_a_finish_cut_by_a_database_restart_is_written_after_reconnecting(
    sent: Any,
) -> None:
    run = _run()
    cut = OperationalError("server closed the connection unexpectedly")

    calls: list[int] = []

    def cut_once(**outcome: Any) -> bool:
        calls.append(1)
        if len(calls) == 1:
            raise cut
        return jobrun_finish(**outcome)

    with mock.patch.object(runner, "jobrun_finish", side_effect=cut_once):
        status = jobrun_execute(run_id=run.pk, worker="here", in_process=True)

    run.refresh_from_db()
    assert status == run.status == Status.SUCCEEDED
    assert len(calls) == 2


@pytest.mark.django_db(transaction=True)
def test_a_finish_committed_just_before_the_cut_is_not_written_again(
    sent: Any,
) -> None:
    run = _run()

    def commit_then_cut(**outcome: Any) -> bool:
        jobrun_finish(**outcome)
        raise OperationalError("server closed the connection unexpectedly")

    with mock.patch.object(runner, "jobrun_finish", side_effect=commit_then_cut):
        status = jobrun_execute(run_id=run.pk, worker="here", in_process=True)

    run.refresh_from_db()
    assert status == run.status == Status.SUCCEEDED
    assert run.output is not None


@pytest.mark.django_db(transaction=True)
def test_a_database_that_stays_away_fails_the_task_after_the_last_attempt(
    sent: Any,
) -> None:
    run = _run()
    cut = OperationalError("could not connect to server")

    with (
        mock.patch.object(runner, "jobrun_finish", side_effect=cut) as finish,
        pytest.raises(OperationalError),
    ):
        jobrun_execute(run_id=run.pk, worker="here", in_process=True)

    assert finish.call_count == runner.FINISH_ATTEMPTS
    assert JobRun.objects.get(pk=run.pk).status == Status.IN_PROGRESS


@pytest.mark.django_db(transaction=True)
def test_a_cut_between_claim_and_start_does_not_leave_the_run_claimed_and_idle(
    sent: Any,
) -> None:
    run = _run()
    real_get = JobRun.objects.get
    cuts = iter([OperationalError("server closed the connection unexpectedly")])

    def get_after_a_cut(*args: Any, **kwargs: Any) -> JobRun:
        for cut in cuts:
            raise cut
        return real_get(*args, **kwargs)

    with mock.patch.object(JobRun.objects, "get", side_effect=get_after_a_cut):
        status = jobrun_execute(run_id=run.pk, worker="here", in_process=True)

    assert status == Status.SUCCEEDED
    assert JobRun.objects.get(pk=run.pk).status == Status.SUCCEEDED
