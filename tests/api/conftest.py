"""Fixtures for the native API tests: clients per persona and runs made by services."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from rest_framework.test import APIClient

from jobruns.models import JobRun
from jobruns.services import jobrun_claim, jobrun_enqueue, jobrun_finish
from schedules.models import Schedule
from schedules.services import schedule_create

NOON = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_throttle_counts() -> Iterator[None]:
    """Throttle counters live in the cache: one test's sign-ins are not the next's."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def client_for() -> Callable[[Any], APIClient]:
    def make(user: Any) -> APIClient:
        client = APIClient()
        client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def make_schedule(db: None) -> Callable[..., Schedule]:
    counter = iter(range(1, 1_000_000))

    def make(**fields: Any) -> Schedule:
        data: dict[str, Any] = {
            "name": f"job-{next(counter)}",
            "kind": "interval",
            "interval_hours": 1,
            "start_at": NOON,
            "target": "core.echo",
        }
        data.update(fields)
        return schedule_create(data=data, by=None, now=NOON, allow_past=True)

    return make


@pytest.fixture
def make_run(db: None) -> Callable[..., JobRun]:
    """A run through the services: queued, or ended with `status` (and a file)."""

    def make(
        schedule: Schedule | None = None,
        *,
        status: str = JobRun.Status.QUEUED,
        at: datetime = NOON,
        error: str = "",
        file: tuple[str, str] | None = None,
        **options: Any,
    ) -> JobRun:
        run = jobrun_enqueue(
            schedule=schedule,
            service=None if schedule else "core.echo",
            trigger=options.pop("trigger", JobRun.Trigger.SCHEDULED),
            scheduled_for=at,
            now=at,
            send=False,
            **options,
        )
        if status != JobRun.Status.QUEUED:
            assert jobrun_claim(run_id=run.pk, worker="w1", now=at)
        if status not in JobRun.ACTIVE:
            name = ""
            if file is not None:
                name = default_storage.save(
                    f"runs/{run.pk}/{file[0]}", ContentFile(file[1].encode())
                )
            jobrun_finish(
                run_id=run.pk,
                status=status,
                now=at,
                log="12:00:00 INFO hello",
                error=error,
                result_file=name,
            )
        run.refresh_from_db()
        return run

    return make
