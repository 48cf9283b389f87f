"""The audit trail: who did what, when, from where, through every interface."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from core.models import AuditEvent
from jobruns.models import JobRun
from jobruns.services import jobrun_claim, jobrun_enqueue, jobrun_finish
from schedules.models import Schedule
from schedules.services import schedule_create

pytestmark = pytest.mark.django_db

NOON = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
SECRET = "cs_very_secret_value"
Action = AuditEvent.Action


def _api(user: Any) -> APIClient:
    client = APIClient(REMOTE_ADDR="203.0.113.7")
    client.force_authenticate(user)
    return client


def _schedule(name: str = "nightly", **fields: Any) -> Schedule:
    data = {
        "name": name,
        "kind": "interval",
        "interval_hours": 1,
        "target": "core.echo",
    }
    return schedule_create(data={**data, **fields}, by=None, now=timezone.now())


def _events(**filters: Any) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(**filters).order_by("at", "id"))


def test_pause_through_the_api_and_resume_on_the_command_line_are_both_recorded(
    operator: Any,
) -> None:
    schedule = _schedule()

    _api(operator).post("/api/v1/schedules/nightly/pause/", {"reason": "deploy"})
    call_command("resume_schedule", "nightly")

    pause, resume = _events(action__in=[Action.PAUSE, Action.RESUME])
    assert (pause.action, pause.interface, pause.actor) == ("pause", "api", operator)
    assert pause.actor_label == "otto-operator"
    assert pause.remote_addr == "203.0.113.7"
    assert pause.changes == {
        "is_paused": [False, True],
        "paused_reason": ["", "deploy"],
    }
    assert (resume.action, resume.interface, resume.actor) == ("resume", "cli", None)
    assert resume.actor_label.startswith("cli")
    assert resume.remote_addr is None
    assert resume.object_id == str(schedule.pk)


def test_an_api_change_records_a_diff_of_exactly_the_fields_that_changed(
    editor: Any,
) -> None:
    api = _api(editor)
    created = api.post(
        "/api/v1/schedules/",
        {"name": "nightly", "kind": "interval", "interval_hours": 1,
         "target": "core.echo", "tags": {"team": "ops"}},
        format="json",
    )  # fmt: skip
    assert created.status_code == 201

    api.patch(
        "/api/v1/schedules/nightly/",
        {"interval_hours": 2, "description": "twice as calm", "tags": {}},
        format="json",
    )

    create, change = _events()
    assert create.action == "create"
    assert create.changes["name"] == [None, "nightly"]
    assert create.changes["tags"] == [None, {"team": "ops"}]
    assert change.changes == {
        "description": ["", "twice as calm"],
        "interval_hours": [1, 2],
        "tags": [{"team": "ops"}, {}],
    }


def test_a_save_that_changes_nothing_records_nothing(editor: Any) -> None:
    _schedule()
    _api(editor).patch("/api/v1/schedules/nightly/", {"interval_hours": 1})
    assert [e.action for e in _events()] == ["create"]


def test_a_deletion_keeps_its_history_and_what_was_deleted(editor: Any) -> None:
    schedule = _schedule()
    _api(editor).delete("/api/v1/schedules/nightly/")

    deleted = _events(action=Action.DELETE)[0]
    assert deleted.object_id == str(schedule.pk)
    assert deleted.object_repr == "nightly"
    assert deleted.changes["target"] == ["core.echo", None]


def test_run_now_cancel_and_retry_are_recorded_with_the_run(operator: Any) -> None:
    _schedule()
    api = _api(operator)
    run_id = api.post("/api/v1/schedules/nightly/run-now/").json()["id"]
    api.post(f"/api/v1/runs/{run_id}/cancel/")
    retried = api.post(f"/api/v1/runs/{run_id}/retry/").json()["id"]

    run_now, cancel, retry = _events(action__in=["run_now", "cancel", "retry"])
    assert run_now.object_repr == "nightly"
    assert run_now.changes["run"] == [None, run_id]
    assert (cancel.object_id, cancel.changes) == (
        str(run_id),
        {"status": ["queued", "cancelled"]},
    )
    assert retry.changes["retry"] == [None, retried]
    assert {e.actor for e in (run_now, cancel, retry)} == {operator}


def test_credentials_are_recorded_by_field_name_never_by_value(editor: Any) -> None:
    api = _api(editor)
    api.post(
        "/api/v1/credentials/",
        {"name": "shop", "component": "woocommerce",
         "fields": {"url": "https://shop.example", "consumer_key": "ck_1",
                    "consumer_secret": SECRET}},
        format="json",
    )  # fmt: skip
    api.patch(
        "/api/v1/credentials/shop/",
        {"fields": {"consumer_secret": SECRET + "2"}},
        format="json",
    )
    api.delete("/api/v1/credentials/shop/")

    create, change, delete = _events()
    assert create.changes["fields"] == [
        None,
        ["consumer_key", "consumer_secret", "url"],
    ]
    assert change.changes == {"fields": [None, ["consumer_secret"]]}
    assert delete.action == "delete"
    everything = json.dumps([e.changes for e in (create, change, delete)])
    assert SECRET not in everything
    assert "ck_1" not in everything


def test_admin_bulk_pause_is_recorded_and_listed_on_the_history_page(
    client: Any, superuser: Any
) -> None:
    schedule = _schedule()
    _api(superuser).post("/api/v1/schedules/nightly/run-now/")
    client.force_login(superuser)

    client.post(
        "/admin/schedules/schedule/",
        # The intermediate page's answer: a reason, and "apply".
        {"action": "pause_selected", "_selected_action": [schedule.pk],
         "apply": "1", "reason": "audit check"},
    )  # fmt: skip
    page = client.get(f"/admin/schedules/schedule/{schedule.pk}/history/")

    pause = _events(action=Action.PAUSE)[0]
    assert (pause.interface, pause.actor) == ("admin", superuser)
    html = page.content.decode()
    assert 'id="audit-history"' in html
    for text in ("Admin", "native API", "pause", "run now", "alice-admin"):
        assert text in html, text


def test_runs_and_credentials_show_their_audit_history_in_the_admin(
    client: Any, superuser: Any
) -> None:
    run = jobrun_enqueue(
        service="core.echo", trigger=JobRun.Trigger.MANUAL, now=NOON, send=False
    )
    assert jobrun_claim(run_id=run.pk, worker="w", now=NOON)
    jobrun_finish(run_id=run.pk, status="failed", now=NOON)
    _api(superuser).post(f"/api/v1/runs/{run.pk}/retry/")
    client.force_login(superuser)

    html = client.get(f"/admin/jobruns/jobrun/{run.pk}/history/").content.decode()

    assert "Retry" in html
    assert "native API" in html


def test_the_forwarded_address_counts_only_behind_a_configured_proxy(
    operator: Any, settings: Any
) -> None:
    _schedule()
    forged = APIClient(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.9")
    forged.force_authenticate(operator)

    forged.post("/api/v1/schedules/nightly/pause/")
    settings.BEHIND_TLS_PROXY = True
    forged.post("/api/v1/schedules/nightly/resume/")

    pause, resume = _events(action__in=["pause", "resume"])
    assert pause.remote_addr == "10.0.0.2"
    assert resume.remote_addr == "198.51.100.9"


def test_the_dispatcher_and_workers_are_recorded_as_the_system(db: None) -> None:
    schedule = _schedule()
    run = jobrun_enqueue(
        schedule=schedule, trigger=JobRun.Trigger.CLI, by="cli", now=NOON, send=False
    )
    event = _events(action=Action.RUN_NOW)[0]
    assert (event.interface, event.actor_label) == ("system", "cli")
    assert event.changes["run"] == [None, run.pk]


# --- reading the trail through the API ---------------------------------------------
def test_a_viewer_reads_and_filters_the_audit_trail(
    viewer: Any, operator: Any, django_assert_max_num_queries: Any
) -> None:
    nightly, hourly = _schedule("nightly"), _schedule("hourly")
    api = _api(operator)
    for name in ("nightly", "hourly"):
        api.post(f"/api/v1/schedules/{name}/pause/")
        api.post(f"/api/v1/schedules/{name}/resume/")
    reader = _api(viewer)

    def actions(**params: Any) -> list[str]:
        response = reader.get("/api/v1/audit/", params)
        assert response.status_code == 200, response.json()
        return [e["action"] for e in response.json()["results"]]

    assert actions(object_type="schedules.schedule", object_id=nightly.pk) == [
        "resume",
        "pause",
        "create",
    ]
    assert actions(actor="otto-operator", action="pause") == ["pause", "pause"]
    assert actions(interface="cli") == []
    with django_assert_max_num_queries(4):
        assert len(actions()) == 6
    history = reader.get(f"/api/v1/schedules/{hourly.name}/history/").json()
    assert [e["action"] for e in history["results"]] == ["resume", "pause", "create"]
    first = history["results"][1]
    assert first["object_type"] == "schedules.schedule"
    assert first["interface"] == "api"


def test_an_outsider_may_not_read_the_audit_trail(outsider: Any) -> None:
    assert _api(outsider).get("/api/v1/audit/").status_code == 403
