"""Plain HTTP helpers for the OpenSpecimen contract tests."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from core.accounts import api_token_create
from jobruns.models import JobRun
from jobruns.services import jobrun_claim, jobrun_enqueue, jobrun_finish
from schedules.models import Schedule

BASE = "/rest/ng"


class OsApi:
    """An OpenSpecimen client: JSON bodies, the session token in X-OS-API-TOKEN."""

    def __init__(self, client: Client, headers: dict[str, str]) -> None:
        self.client, self.headers = client, headers

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(BASE + path, params, headers=self.headers)

    def post(self, path: str, body: Any = None, raw: str | None = None) -> Any:
        data = raw if raw is not None else json.dumps(body if body is not None else {})
        return self.client.post(
            BASE + path, data, content_type="application/json", headers=self.headers
        )

    def put(self, path: str, body: Any) -> Any:
        return self.client.put(
            BASE + path,
            json.dumps(body),
            content_type="application/json",
            headers=self.headers,
        )

    def delete(self, path: str) -> Any:
        return self.client.delete(BASE + path, headers=self.headers)

    def patch(self, path: str) -> Any:
        return self.client.patch(BASE + path, headers=self.headers)


def token_headers(user: Any) -> dict[str, str]:
    _, raw = api_token_create(
        user=user, name="test session", expires_at=timezone.now() + timedelta(hours=1)
    )
    return {"X-OS-API-TOKEN": raw}


def basic_headers(username: str, password: str) -> dict[str, str]:
    pair = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


@pytest.fixture(autouse=True)
def _fresh_throttle() -> Iterator[None]:
    # The sign-in throttle counts in the cache, which outlives a test.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _no_broker(request: pytest.FixtureRequest) -> Iterator[None]:
    # Contract tests only queue runs; the real-worker module sends them for real.
    if request.node.get_closest_marker("requires_worker"):
        yield
        return
    with mock.patch("jobruns.tasks.execute_run.apply_async"):
        yield


@pytest.fixture
def api_as(db: None) -> Callable[[Any], OsApi]:
    def make(user: Any) -> OsApi:
        return OsApi(Client(), token_headers(user))

    return make


@pytest.fixture
def admin_api(api_as: Callable[[Any], OsApi], superuser: Any) -> OsApi:
    return api_as(superuser)


def job_body(name: str = "nightly-report", **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "type": "INTERNAL",
        "taskImplFqn": "core.echo",
        "repeatSchedule": "DAILY",
        "scheduledHour": 2,
        "scheduledMinute": 30,
    }
    body.update(fields)
    return body


def finished_run(
    job: Schedule,
    *,
    started: datetime,
    finished: datetime | None,
    status: str = JobRun.Status.SUCCEEDED,
    by: Any = None,
    args: tuple[str, ...] = (),
    error: str = "",
) -> JobRun:
    """A run of `job` queued and started at `started`, ended at `finished`."""
    run = jobrun_enqueue(
        schedule=job,
        trigger=JobRun.Trigger.API if by is not None else JobRun.Trigger.MANUAL,
        args=args,
        by=by,
        now=started,
    )
    assert jobrun_claim(run_id=run.pk, worker="test", now=started)
    if finished is not None:
        jobrun_finish(run_id=run.pk, status=status, now=finished, error=error)
    run.refresh_from_db()
    return run
