"""sync.rest_to_redis_email end to end on real parts: a Celery worker, an HTTP
source, a Redis with a password and an SMTP server; fired by a schedule,
invoked over the API and from the command line; every step's failure."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from connections.models import OutgoingConnection, SentEmail
from connections.services import connection_update
from jobruns.models import JobRun
from schedules.services import schedule_create
from tests.connections.conftest import (
    ORDERS,
    SmtpServer,
    closed_port,
    redis_value,
    sync_input,
)
from tests.support.services import wait_for

pytestmark = [
    pytest.mark.requires_postgres,
    pytest.mark.requires_redis,
    pytest.mark.requires_worker,
    pytest.mark.django_db(transaction=True),
]
SERVICE = "sync.rest_to_redis_email"
Status = JobRun.Status


@pytest.fixture
def api(client: Any, superuser: Any) -> Any:
    client.force_login(superuser)
    return client


def _one_time_sync(name: str, **fields: Any) -> Any:
    data = {
        "name": name,
        "kind": "one_time",
        "run_at": timezone.now() + timedelta(seconds=1),
        "target": SERVICE,
        "input": sync_input(),
        **fields,
    }
    return schedule_create(data=data, by=None, now=timezone.now())


def _assert_delivered_once(smtp: SmtpServer) -> None:
    assert len(smtp.received) == 1
    message = smtp.received[0]
    assert message["Subject"] == "New orders"
    assert message["To"] == "ops@example.com, boss@example.com"
    assert message["Cc"] == "audit@example.com"
    assert message["From"] == "robot@example.com"
    assert sorted(smtp.envelopes[0].rcpt_tos) == [
        "audit@example.com", "boss@example.com", "ops@example.com",
    ]  # fmt: skip
    attachments = list(message.iter_attachments())  # type: ignore[attr-defined]
    assert [a.get_filename() for a in attachments] == ["orders.json"]
    assert attachments[0].get_content_type() == "application/json"
    assert attachments[0].get_payload(decode=True) == ORDERS
    body = message.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
    assert body.get_content().strip() == "The new orders are attached."


def test_a_schedule_of_the_sync_service_fires_on_a_worker_and_delivers_everything(
    celery_worker: Any,
    dispatcher: Callable[[], None],
    connections: dict[str, Any],
    smtp_server: SmtpServer,
    own_redis: str,
    settings: Any,
) -> None:
    settings.SCHEDULER_DISPATCH_MAX_SLEEP_MS = 100
    schedule = _one_time_sync("orders-to-ops")
    dispatcher()

    wait_for(
        lambda: schedule.runs.filter(status__in=JobRun.FINISHED).exists(), 30, "the run"
    )
    run = schedule.runs.get()
    assert run.status == Status.SUCCEEDED, (run.error, run.log)
    assert run.worker == celery_worker.hostname
    assert run.output == {
        "bytes": len(ORDERS),
        "redis_key": "orders:new",
        "email_to": ["ops@example.com", "boss@example.com"],
        "email_cc": ["audit@example.com"],
    }
    assert redis_value(own_redis, "orders:new") == ORDERS
    _assert_delivered_once(smtp_server)
    assert smtp_server.logins == 1
    assert "rest: GET orders from 'My Data Source' answered 200" in run.log
    assert "redis: SET orders:new on 'cache'" in run.log
    message_id = smtp_server.received[0]["Message-ID"]
    assert f"smtp: sent {message_id}" in run.log
    assert SentEmail.objects.get().message_id == message_id


def test_the_same_service_invoked_over_the_api_waits_for_its_run(
    celery_worker: Any,
    api: Any,
    connections: dict[str, Any],
    smtp_server: SmtpServer,
    own_redis: str,
) -> None:
    answer = api.post(
        f"/api/v1/services/{SERVICE}/invoke/",
        {
            "input": sync_input(key="orders:api"),
            "extra": "from=api",
            "wait_seconds": 30,
        },
        content_type="application/json",
    )
    assert answer.status_code == 200, answer.content
    run = answer.json()
    assert (run["status"], run["trigger"], run["extra"]) == (
        "succeeded",
        "api",
        "from=api",
    )
    assert run["output"]["redis_key"] == "orders:api"
    assert redis_value(own_redis, "orders:api") == ORDERS
    _assert_delivered_once(smtp_server)

    queued = api.post(
        f"/api/v1/services/{SERVICE}/invoke/",
        {"input": sync_input(key="orders:later")},
        content_type="application/json",
    )
    assert queued.status_code == 202
    assert queued["Location"].endswith(f"/api/v1/runs/{queued.json()['id']}/")
    wait_for(
        lambda: JobRun.objects.get(pk=queued.json()["id"]).is_finished, 30, "run 2"
    )


def test_invoke_refuses_an_input_that_does_not_fit_and_an_unknown_service(
    api: Any,
) -> None:
    bad = api.post(
        f"/api/v1/services/{SERVICE}/invoke/",
        {"input": sync_input(to="ops@example.com")},
        content_type="application/json",
    )
    assert bad.status_code == 400
    assert bad["Content-Type"] == "application/problem+json"
    assert (
        "to: 'ops@example.com' is not of type 'array'"
        in bad.json()["errors"]["input"][0]
    )
    too_long = api.post(
        f"/api/v1/services/{SERVICE}/invoke/",
        {"input": sync_input(), "wait_seconds": 61},
        content_type="application/json",
    )
    assert too_long.status_code == 400
    assert "wait_seconds" in too_long.json()["errors"]
    assert api.post("/api/v1/services/no.such/invoke/", {}).status_code == 404
    assert not JobRun.objects.exists()


def test_manage_py_invoke_runs_the_sync_service_with_its_connections(
    connections: dict[str, Any], smtp_server: SmtpServer, own_redis: str
) -> None:
    out = StringIO()
    call_command(
        "invoke",
        SERVICE,
        "--payload",
        json.dumps(sync_input(key="orders:cli")),
        "--extra",
        "from=cli",
        stdout=out,
        stderr=StringIO(),
    )
    assert json.loads(out.getvalue())["redis_key"] == "orders:cli"
    assert redis_value(own_redis, "orders:cli") == ORDERS
    _assert_delivered_once(smtp_server)
    assert JobRun.objects.get().trigger == JobRun.Trigger.CLI


def _invoke(api: Any, key: str) -> dict[str, Any]:
    answer = api.post(
        f"/api/v1/services/{SERVICE}/invoke/",
        {"input": sync_input(key=key), "wait_seconds": 30},
        content_type="application/json",
    )
    assert answer.status_code == 200, answer.content
    return dict(answer.json())


def _change(name: str, **settings: Any) -> None:
    connection = OutgoingConnection.objects.get(name=name)
    connection_update(
        connection=connection, settings={**connection.settings, **settings}
    )


def test_each_failing_step_fails_the_run_naming_the_step_and_the_connection(
    celery_worker: Any,
    api: Any,
    connections: dict[str, Any],
    smtp_server: SmtpServer,
    data_source: str,
    own_redis: str,
) -> None:
    _change("My Data Source", base_url=f"http://127.0.0.1:{closed_port()}/api/")
    down = _invoke(api, "k1")
    assert down["status"] == "failed"
    assert down["error"] == (
        "step rest failed: rest connection 'My Data Source': GET orders failed: "
        "could not connect (refused, unreachable or closed)"
    )

    _change("My Data Source", base_url=data_source)
    connection_update(
        connection=connections["rest"], secrets={"token": "not-the-right-token"}
    )
    refused = _invoke(api, "k2")
    assert refused["error"] == (
        "step rest failed: rest connection 'My Data Source': GET orders answered "
        "401 Unauthorized"
    )

    from tests.connections.conftest import SOURCE_TOKEN

    connection_update(connection=connections["rest"], secrets={"token": SOURCE_TOKEN})
    _change("cache", url=f"redis://127.0.0.1:{closed_port()}/0")
    no_redis = _invoke(api, "k3")
    assert no_redis["status"] == "failed"
    assert no_redis["error"].startswith(
        "step redis failed: redis connection 'cache': SET failed:"
    )
    assert "Connection refused" in no_redis["error"]

    _change("cache", url=own_redis)
    smtp_server.refuse_logins = True
    no_login = _invoke(api, "k4")
    assert no_login["status"] == "failed"
    assert no_login["error"].startswith(
        "step smtp failed: smtp connection 'My SMTP': the server refused the login (535"
    )
    assert redis_value(own_redis, "k4") == ORDERS  # the steps before it did run
    assert smtp_server.received == []
    for run in (down, refused, no_redis, no_login):
        log = api.get(f"/api/v1/runs/{run['id']}/log/").json()["log"]
        assert run["error"] in log

    # Fixed, then retried: sent once.
    smtp_server.refuse_logins = False
    retry = api.post(f"/api/v1/runs/{no_login['id']}/retry/")
    assert retry.status_code == 202
    wait_for(lambda: JobRun.objects.get(pk=retry.json()["id"]).is_finished, 30, "retry")
    assert JobRun.objects.get(pk=retry.json()["id"]).status == Status.SUCCEEDED
    assert len(smtp_server.received) == 1


def test_a_retry_after_the_smtp_step_failed_never_sends_the_email_twice(
    celery_worker: Any,
    dispatcher: Callable[[], None],
    connections: dict[str, Any],
    smtp_server: SmtpServer,
    settings: Any,
) -> None:
    """The server took the message, then ended the session with an error: the
    run fails in `smtp`, its automatic retry fetches again but does not send."""
    settings.SCHEDULER_DISPATCH_MAX_SLEEP_MS = 100
    smtp_server.failing_quits = 1
    schedule = _one_time_sync("orders-once", max_retries=2, retry_delay_seconds=1)
    dispatcher()

    wait_for(
        lambda: schedule.runs.filter(status=Status.SUCCEEDED).exists(), 40, "a retry"
    )
    first, second = schedule.runs.order_by("attempt")
    assert first.status == Status.FAILED
    assert first.error.startswith(
        "step smtp failed: smtp connection 'My SMTP': the server answered 421"
    )
    assert (second.attempt, second.retry_of_id) == (2, first.pk)
    assert "rest: GET orders" in second.log
    assert "not sent again" in second.log
    _assert_delivered_once(smtp_server)
    assert SentEmail.objects.get().message_id == smtp_server.received[0]["Message-ID"]
