"""Data for dashboard tests, made through the schedules and jobruns services."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from jobruns.models import JobRun
from jobruns.services import (
    jobrun_cancel,
    jobrun_claim,
    jobrun_enqueue,
    jobrun_finish,
    jobrun_record_skipped,
)
from schedules.models import Schedule
from schedules.services import schedule_create

MakeSchedule = Callable[..., Schedule]
MakeRun = Callable[..., JobRun]
Status = JobRun.Status


@pytest.fixture
def make_schedule() -> MakeSchedule:
    """An interval schedule every hour from `start`; parallel runs allowed."""
    counter = iter(range(1, 1_000_000))

    def make(*, now: datetime, **fields: Any) -> Schedule:
        data: dict[str, Any] = {
            "name": f"job-{next(counter)}",
            "kind": "interval",
            "interval_hours": 1,
            "start_at": now + timedelta(minutes=5),
            "target": "core.echo",
            "overlap_policy": "allow",
        }
        data.update(fields)
        return schedule_create(data=data, by=None, now=now, allow_past=True)

    return make


@pytest.fixture
def make_run() -> MakeRun:
    """A run of `schedule` queued at `at` and taken to `status` by the services."""

    def make(
        schedule: Schedule, status: str, *, at: datetime, error: str = "it broke"
    ) -> JobRun:
        if status == Status.SKIPPED:
            return jobrun_record_skipped(
                schedule=schedule,
                scheduled_for=at,
                reason=JobRun.SkipReason.OVERLAP,
                count=1,
                note="overlap",
                now=at,
            )
        run = jobrun_enqueue(schedule=schedule, trigger="api", now=at, send=False)
        if status == Status.CANCELLED:
            jobrun_cancel(run=run, by="test", now=at + timedelta(seconds=1))
        elif status != Status.QUEUED:
            assert jobrun_claim(run_id=run.pk, worker="w1", now=at)
            if status != Status.IN_PROGRESS:
                jobrun_finish(
                    run_id=run.pk,
                    status=status,
                    now=at + timedelta(seconds=30),
                    error="" if status == Status.SUCCEEDED else error,
                )
        run.refresh_from_db()
        assert run.status == status
        return run

    return make
