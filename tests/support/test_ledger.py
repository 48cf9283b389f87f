"""The chaos tests' ledger check reports each way a run ledger can be wrong."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from jobruns.models import JobRun
from schedules.models import Schedule
from schedules.services import schedule_create
from tests.support.ledger import expect, ledger_discrepancies

NOON = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
Status = JobRun.Status
S = timedelta(seconds=1)


def _schedule(**fields: Any) -> Schedule:
    data: dict[str, Any] = {
        "name": "every-2s",
        "kind": "interval",
        "interval_seconds": 2,
        "start_at": NOON + 2 * S,
        "target": "core.echo",
        "overlap_policy": "allow",
    }
    data.update(fields)
    return schedule_create(data=data, by=None, now=NOON, allow_past=True)


def _row(schedule: Schedule, at: datetime, **fields: Any) -> JobRun:
    values: dict[str, Any] = {
        "schedule": schedule,
        "schedule_name": schedule.name,
        "service": schedule.target,
        "trigger": "scheduled",
        "scheduled_for": at,
        "queued_at": at + 0.1 * S,
        "time_limit_seconds": 60,
        "status": Status.SUCCEEDED,
    }
    values.update(fields)
    return JobRun.objects.create(**values)


def _effects(path: Path, *runs: JobRun) -> Path:
    path.write_text(
        "".join(
            json.dumps({"run": run.pk, "attempt": 1, "pid": 1}) + "\n" for run in runs
        )
    )
    return path


def _check(schedule: Schedule, effects: Path, *, until: datetime) -> list[str]:
    return ledger_discrepancies(
        [expect(schedule, until=until)], on_time_seconds=1, effects=effects
    )


@pytest.mark.django_db
def test_a_ledger_with_every_fire_run_once_on_time_is_clean(tmp_path: Path) -> None:
    schedule = _schedule()
    runs = [_row(schedule, NOON + k * S) for k in (2, 4, 6)]

    assert _check(schedule, _effects(tmp_path / "e", *runs), until=NOON + 6 * S) == []


@pytest.mark.django_db
def test_a_lost_fire_a_second_start_and_a_stuck_run_are_each_named(
    tmp_path: Path,
) -> None:
    schedule = _schedule()
    twice = _row(schedule, NOON + 2 * S)
    stuck = _row(schedule, NOON + 6 * S, status=Status.QUEUED)

    problems = _check(
        schedule, _effects(tmp_path / "e", twice, twice), until=NOON + 6 * S
    )

    assert problems == [
        "every-2s: fire 12:00:04.000 has no run (lost)",
        f"run #{stuck.pk} of every-2s is stuck queued (queued 12:00:06.100, started -)",
        f"run #{twice.pk} of every-2s started 2 times (pids 1, 1)",
    ]


@pytest.mark.django_db
def test_a_run_once_outage_with_two_catch_up_runs_breaks_the_policy(
    tmp_path: Path,
) -> None:
    schedule = _schedule(missed_policy="run_once", catchup_window_seconds=60)
    back = NOON + 9 * S  # the dispatcher came back after fires at 2, 4, 6 and 8
    runs = [
        _row(schedule, NOON + k * S, trigger="catchup", queued_at=back) for k in (6,)
    ]
    runs.append(_row(schedule, NOON + 8 * S, queued_at=back))
    _row(schedule, NOON + 2 * S, queued_at=back, status=Status.SKIPPED,
         skip_reason="missed", skipped_count=2)  # fmt: skip

    problems = _check(schedule, _effects(tmp_path / "e", *runs), until=NOON + 8 * S)

    assert problems == [
        "every-2s: fire 12:00:06.000 dispatched at 12:00:09.000 (run_once, window "
        f"60 s) should be missed, is catchup (run #{runs[0].pk})"
    ]


@pytest.mark.django_db
def test_run_once_after_an_outage_is_one_run_and_one_row_counting_the_rest(
    tmp_path: Path,
) -> None:
    schedule = _schedule(missed_policy="run_once", catchup_window_seconds=60)
    back = NOON + 9 * S
    run = _row(schedule, NOON + 8 * S, queued_at=back)
    _row(schedule, NOON + 2 * S, queued_at=back, status=Status.SKIPPED,
         skip_reason="missed", skipped_count=3)  # fmt: skip

    assert _check(schedule, _effects(tmp_path / "e", run), until=NOON + 8 * S) == []
