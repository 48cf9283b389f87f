"""Runs and executions made while the broker is down: 202, and the reaper sends them.

The server is a real gunicorn whose CELERY_BROKER_URL points at a closed port,
so every publish goes through real kombu and fails as it would in production.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from core.accounts import api_token_create
from executions.models import Execution
from executions.services import execution_reap
from jobruns.models import JobRun
from jobruns.services import jobrun_requeue_stale
from schedules.services import schedule_create
from tests.support.live import GunicornProcess
from tests.support.services import database_url_for_subprocess, free_port

pytestmark = [pytest.mark.requires_postgres, pytest.mark.requires_redis]

SHOP = {
    "url": "https://shop.example.com",
    "consumer_key": "ck_0123456789abcdef0123456789abcdef01234567",
    "consumer_secret": "cs_0123456789abcdef0123456789abcdef01234567",
}


def call(server: GunicornProcess, method: str, path: str, token: str, body: Any = None,
         **headers: str) -> tuple[int, Any]:  # fmt: skip
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        server.url + path,
        data=data,
        method=method,
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            **headers,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture
def brokerless_server(transactional_db: None) -> Iterator[GunicornProcess]:
    closed = free_port()  # nothing listens here
    server = GunicornProcess(
        env={
            "DATABASE_URL": database_url_for_subprocess(),
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{closed}/0",
        }
    ).start()
    yield server
    server.stop()


def test_every_endpoint_that_creates_runs_answers_202_while_the_broker_is_down(
    brokerless_server: GunicornProcess, superuser: Any
) -> None:
    _, token = api_token_create(user=superuser, name="broker-down")
    now = timezone.now()
    schedule = schedule_create(
        data={"name": "nightly", "kind": "interval", "interval_hours": 1,
              "start_at": now + timedelta(hours=1), "target": "core.echo",
              "overlap_policy": "allow", "max_parallel": 5},
        by=None, now=now,
    )  # fmt: skip
    server = brokerless_server

    native = call(server, "POST", "/api/v1/schedules/nightly/run-now/", token, {})
    conductor = call(server, "POST", "/api/workflow", token, {"name": "core.echo"})
    specimen = call(
        server, "POST", f"/rest/ng/scheduled-jobs/{schedule.pk}/runs", token, {},
        **{"X-OS-API-TOKEN": token},
    )  # fmt: skip

    assert native[0] == 202, native
    assert json.loads(native[1])["status"] == "queued"
    assert conductor[0] == 200, conductor  # Conductor answers the run id as text
    assert specimen[0] == 200, specimen
    runs = JobRun.objects.order_by("pk")
    assert list(runs.values_list("status", flat=True)) == ["queued"] * 3
    assert conductor[1] == str(runs[1].pk)
    assert "saved but its message was not sent" in server.log()

    # The reaper finds them again from the database (here on the real broker).
    later = timezone.now() + timedelta(minutes=10)
    assert jobrun_requeue_stale(now=later) == 3


def test_every_endpoint_that_creates_executions_answers_202_while_the_broker_is_down(
    brokerless_server: GunicornProcess, superuser: Any
) -> None:
    _, token = api_token_create(user=superuser, name="broker-down")
    server = brokerless_server

    native = call(
        server, "POST", "/api/v1/executions/", token,
        {"component": "woocommerce", "method": "verify_credentials", "cfg": SHOP},
    )  # fmt: skip
    v1 = call(
        server, "POST", "/v1/exec/schedule", token,
        {"execution_type": "verify_credentials", "component": "woocommerce",
         "account_data": SHOP},
    )  # fmt: skip
    workspace = {"workspace": {"data": {"id": "w", "type": "workspace"}}}
    v2 = call(
        server, "POST", "/v2/components/woocommerce/versions/latest/verify-credential",
        token,
        {"data": {"type": "verify-credential", "attributes": {"fields": SHOP},
                  "relationships": workspace}},
    )  # fmt: skip

    assert [native[0], v1[0], v2[0]] == [202, 202, 202], (native, v1, v2)
    assert Execution.objects.filter(status=Execution.Status.PENDING).count() == 3
    later = timezone.now() + timedelta(minutes=10)
    assert execution_reap(now=later)["resent"] == 3
