"""A secret stored in a connection appears in no API response, admin page, log
line, audit entry or export (the executions' grep test, for connections)."""

from __future__ import annotations

import json
import logging
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from connections.models import OutgoingConnection
from core.models import AuditEvent
from schedules.services import schedule_create
from tests.connections.conftest import (
    REDIS_PASSWORD,
    SMTP_PASSWORD,
    SOURCE_TOKEN,
    SmtpServer,
    sync_input,
)

pytestmark = [
    pytest.mark.requires_postgres,
    pytest.mark.requires_redis,
    pytest.mark.requires_worker,
    pytest.mark.django_db(transaction=True),
]
SECRETS = (SOURCE_TOKEN, SMTP_PASSWORD, REDIS_PASSWORD)


class Recorder:
    """The test client, keeping every response body."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.bodies: list[bytes] = []

    def call(self, method: str, url: str, data: Any = None) -> Any:
        answer = getattr(self.client, method)(
            url, data, content_type="application/json"
        ) if data is not None else getattr(self.client, method)(url)  # fmt: skip
        self.bodies.append(answer.content)
        return answer


def test_connection_secrets_appear_in_no_response_page_log_audit_or_export(
    celery_worker: Any,
    client: Any,
    superuser: Any,
    data_source: str,
    smtp_server: SmtpServer,
    own_redis: str,
    caplog: Any,
) -> None:
    caplog.set_level(logging.DEBUG)
    client.force_login(superuser)
    api = Recorder(client)
    bodies: list[dict[str, Any]] = [
        {"name": "My Data Source", "kind": "rest",
         "settings": {"base_url": data_source, "auth": "bearer"},
         "secrets": {"token": SOURCE_TOKEN}},
        {"name": "My SMTP", "kind": "smtp",
         "settings": {"host": "127.0.0.1", "port": smtp_server.port,
                      "security": "none", "username": "robot@example.com",
                      "from_address": "robot@example.com"},
         "secrets": {"password": SMTP_PASSWORD}},
        {"name": "cache", "kind": "redis", "settings": {"url": own_redis},
         "secrets": {"password": REDIS_PASSWORD}},
    ]  # fmt: skip
    for body in bodies:
        assert api.call("post", "/api/v1/connections/", body).status_code == 201
        name = body["name"].replace(" ", "%20")
        assert api.call("post", f"/api/v1/connections/{name}/test/").json()["ok"]
        api.call("get", f"/api/v1/connections/{name}/")
        api.call("put", f"/api/v1/connections/{name}/", {**body, "secrets": {}})
    api.call("get", "/api/v1/connections/")
    run = api.call(
        "post",
        "/api/v1/services/sync.rest_to_redis_email/invoke/",
        {"input": sync_input(), "wait_seconds": 30},
    ).json()
    assert run["status"] == "succeeded", run["error"]
    api.call("get", f"/api/v1/runs/{run['id']}/")
    api.call("get", f"/api/v1/runs/{run['id']}/log/")
    api.call("get", "/api/v1/runs/")
    api.call("get", "/api/v1/audit/")
    api.call("get", "/admin/connections/outgoingconnection/")
    for pk in OutgoingConnection.objects.values_list("pk", flat=True):
        api.call("get", f"/admin/connections/outgoingconnection/{pk}/change/")
        api.call("get", f"/admin/connections/outgoingconnection/{pk}/history/")
    schedule_create(
        data={"name": "orders", "kind": "interval", "interval_hours": 1,
              "target": "sync.rest_to_redis_email", "input": sync_input()},
        by=superuser, now=timezone.now(),
    )  # fmt: skip
    export = StringIO()
    call_command("export_schedules", "-", stdout=export)
    dump = StringIO()
    call_command("dumpdata", "connections", "scheduler_site.auditevent", stdout=dump)

    everything = b"\n".join(api.bodies).decode("utf-8", "replace")
    worker_log = celery_worker.log_path.read_text(errors="replace")
    audit = json.dumps([e.changes for e in AuditEvent.objects.all()])
    assert "sync.rest_to_redis_email" in worker_log  # the log is real
    assert "••••••" in everything  # masked values were shown
    assert len(smtp_server.received) == 1
    for secret in SECRETS:
        assert secret not in everything
        assert secret not in worker_log
        assert secret not in caplog.text
        assert secret not in audit
        assert secret not in export.getvalue()
        assert secret not in dump.getvalue()
