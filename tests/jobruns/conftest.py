"""Fixtures for job run tests: schedules made through the schedules service."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from schedules.models import Schedule
from schedules.services import schedule_create

# A fixed instant for tests that pin the clock: a Monday at noon UTC.
NOON = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)

MakeSchedule = Callable[..., Schedule]


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Any) -> None:
    """Result files of tests go to a fresh folder, not the laptop's var/media."""
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def make_schedule(db: None) -> MakeSchedule:
    """A schedule via `schedule_create`; every 10 s from NOON unless told otherwise."""
    counter = iter(range(1, 1_000_000))

    def make(*, now: datetime = NOON, **fields: Any) -> Schedule:
        data: dict[str, Any] = {
            "name": f"job-{next(counter)}",
            "kind": "interval",
            "interval_seconds": 10,
            "start_at": NOON,
            "target": "core.echo",
        }
        data.update(fields)
        return schedule_create(data=data, by=None, now=now, allow_past=True)

    return make
