"""Management commands: exit 0 when fine, 1 when the run failed, 2 on bad input."""

from __future__ import annotations

import io
import json
from unittest import mock

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from jobruns.models import JobRun
from schedules.models import Schedule
from tests.jobruns.conftest import MakeSchedule


def _call(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.mark.django_db
def test_invoke_runs_a_service_in_process_and_prints_its_output() -> None:
    out = _call("invoke", "core.echo", "--payload", '{"a": 1}', "--args", "x", "y")

    assert json.loads(out) == {"input": {"a": 1}, "args": ["x", "y"], "extra": ""}
    run = JobRun.objects.get()
    assert (run.trigger, run.status, run.schedule) == ("cli", "succeeded", None)


@pytest.mark.django_db
def test_invoke_exits_1_when_the_service_fails() -> None:
    with pytest.raises(CommandError, match="RuntimeError: boom") as failed:
        _call("invoke", "core.fail", "--payload", '{"message": "boom"}')

    assert failed.value.returncode == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["invoke", "no.such", "--payload", "{}"], "no service"),
        (["invoke", "core.echo", "--payload", "{not json"], "not valid JSON"),
        (["invoke", "core.echo", "--payload", "[1]"], "JSON object"),
        (["run_schedule", "missing"], "no schedule named 'missing'"),
        (["next_runs", "61 * * * *", "--tz", "UTC"], "minute"),
        (["next_runs", "* * * * *", "--tz", "Mars/Base"], "Mars/Base"),
    ],
)
def test_bad_input_exits_2_with_a_sentence(args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message) as error:
        _call(*args)

    assert error.value.returncode == 2


@pytest.mark.django_db
def test_run_schedule_queues_a_cli_run_with_args(make_schedule: MakeSchedule) -> None:
    schedule = make_schedule()

    with mock.patch("jobruns.tasks.execute_run.apply_async"):
        out = _call("run_schedule", schedule.name, "a", "b")

    run = JobRun.objects.get(pk=int(out))
    assert (run.schedule, run.args, run.trigger) == (schedule, ["a", "b"], "cli")


@pytest.mark.django_db
def test_pause_resume_and_list_go_through_the_schedule_services(
    make_schedule: MakeSchedule,
) -> None:
    schedule = make_schedule()

    assert "paused" in _call("pause_schedule", schedule.name, "--reason", "upgrade")
    schedule.refresh_from_db()
    assert (schedule.is_paused, schedule.paused_reason) == (True, "upgrade")
    assert "paused" in _call("list_schedules")
    assert "resumed" in _call("resume_schedule", schedule.name)
    assert not Schedule.objects.get(pk=schedule.pk).is_paused


def test_next_runs_prints_local_and_utc_times() -> None:
    out = _call("next_runs", "30 2 * * *", "--tz", "Europe/Berlin", "-n", "2")

    lines = out.strip().splitlines()
    assert len(lines) == 2
    assert "02:30:00 CE" in lines[0]
    assert "UTC" in lines[0]


@pytest.mark.django_db
def test_load_demo_is_idempotent() -> None:
    _call("load_demo")
    again = _call("load_demo")

    assert Schedule.objects.filter(name__startswith="demo.").count() == 4
    assert again.count("already there") == 4 + 3  # schedules and connections


@pytest.mark.django_db
def test_requeue_and_prune_commands_report_counts() -> None:
    assert _call("requeue_runs") == "Re-sent 0 queued run(s).\n"
    assert _call("prune_runs") == "Deleted 0 run(s).\n"
