"""The real conductor-python 2.0.0 client against a live server.

Every OrkesSchedulerClient method runs twice: once in open mode (no auth
settings, so the SDK makes no token call; the server has key auth switched off
and acts as its service user) and once with an API key (token from /api/token,
sent as X-Authorization). What the SDK saw is checked against the native API
and the admin.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from conductor.client.ai.schedule import Schedule as AgentSchedule
from conductor.client.ai.schedule import _get_info
from conductor.client.ai.schedule_errors import InvalidCronExpression, ScheduleNotFound
from conductor.client.configuration.configuration import Configuration
from conductor.client.configuration.settings.authentication_settings import (
    AuthenticationSettings,
)
from conductor.client.http.models.save_schedule_request import SaveScheduleRequest
from conductor.client.http.models.start_workflow_request import StartWorkflowRequest
from conductor.client.http.rest import ApiException
from conductor.client.orkes.models.metadata_tag import MetadataTag
from conductor.client.orkes.orkes_scheduler_client import OrkesSchedulerClient
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from compat.conductor.services import to_ms
from core.roles import ROLES
from jobruns.models import JobRun
from jobruns.services import jobrun_enqueue
from schedules.models import Schedule
from tests.conftest import PASSWORD

pytestmark = [
    pytest.mark.django_db(transaction=True),
    # The SDK calls its own deprecated TagObject.type while (de)serialising.
    pytest.mark.filterwarnings("ignore:Call to deprecated function:DeprecationWarning"),
]

NAME = "core.echo-nightly"
START = datetime(2031, 1, 1, tzinfo=UTC)
END = datetime(2032, 1, 1, tzinfo=UTC)


@pytest.fixture
def roles(transactional_db: None) -> None:
    """Transactional tests flush the groups the roles migration made; remake them."""
    for role, dotted_names in ROLES.items():
        group, _ = Group.objects.get_or_create(name=role)
        permissions: list[Any] = []
        for dotted in dotted_names:
            app_label, codename = dotted.split(".", 1)
            permissions += Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            )
        group.permissions.set(permissions)


@pytest.fixture
def admin_user(roles: None, django_user_model: Any) -> Any:
    return django_user_model.objects.create_superuser(
        username="alice-admin", password=PASSWORD
    )


@pytest.fixture(params=["open-mode", "api-key"])
def sdk(
    request: pytest.FixtureRequest,
    roles: None,
    live_server: Any,
    settings: Any,
    django_user_model: Any,
    make_key: Callable[[Any], tuple[str, str]],
) -> Iterator[OrkesSchedulerClient]:
    url = f"{live_server.url}/api"
    if request.param == "open-mode":
        settings.CONDUCTOR_AUTH_REQUIRED = False
        settings.CONDUCTOR_ANONYMOUS_USER = "conductor"
        user = django_user_model.objects.create_user(username="conductor")
        config = Configuration(server_api_url=url)
    else:
        user = django_user_model.objects.create_user(username="ci-robot")
        key_id, secret = make_key(user)
        config = Configuration(
            server_api_url=url,
            authentication_settings=AuthenticationSettings(key_id, secret),
        )
    user.groups.add(Group.objects.get(name="editor"))
    client = OrkesSchedulerClient(config)
    if request.param == "api-key":
        assert client.api_client.configuration.AUTH_TOKEN  # a token was issued
    return client


@pytest.fixture
def native(admin_user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(admin_user)
    return client


def _save_request(**overrides: Any) -> SaveScheduleRequest:
    fields: dict[str, Any] = {
        "name": NAME,
        "cron_expression": "0 30 2 * * *",
        "zone_id": "Europe/Berlin",
        "description": "from the SDK",
        "schedule_start_time": to_ms(START),
        "schedule_end_time": to_ms(END),
        "start_workflow_request": StartWorkflowRequest(
            name="core.echo",
            input={"report": "daily"},
            correlation_id="corr-7",
            priority=5,
        ),
    }
    fields.update(overrides)
    return SaveScheduleRequest(**fields)


def test_save_get_and_list_match_the_native_api_and_the_admin(
    sdk: OrkesSchedulerClient, native: APIClient, admin_user: Any
) -> None:
    sdk.save_schedule(_save_request())
    got = sdk.get_schedule(NAME)
    assert got is not None
    assert (got.name, got.cron_expression, got.zone_id) == (
        NAME,
        "0 30 2 * * *",
        "Europe/Berlin",
    )
    assert got.paused is False
    assert got.run_catchup_schedule_instances is False
    assert (got.schedule_start_time, got.schedule_end_time) == (
        to_ms(START),
        to_ms(END),
    )
    request = got.start_workflow_request
    assert (request.name, request.input, request.correlation_id, request.priority) == (
        "core.echo",
        {"report": "daily"},
        "corr-7",
        5,
    )

    row = native.get(f"/api/v1/schedules/{NAME}/").json()
    assert row["cron_expression"] == "0 30 2 * * *"
    assert row["cron_dialect"] == "spring"
    assert row["time_zone"] == "Europe/Berlin"
    assert row["target"] == "core.echo"
    assert row["correlation_id"] == "corr-7"
    assert row["priority"] == 5
    assert row["created_by"] == got.created_by == got.updated_by
    schedule = Schedule.objects.get(name=NAME)
    assert got.create_time == to_ms(schedule.created_at)
    assert got.updated_time == to_ms(schedule.updated_at)
    # Berlin is UTC+1 in January: 02:30 local is 01:30 UTC.
    assert schedule.next_run_at == datetime(2031, 1, 1, 1, 30, tzinfo=UTC)

    browser = Client()
    browser.login(username=admin_user.username, password=PASSWORD)
    page = browser.get(f"/admin/schedules/schedule/{schedule.pk}/change/")
    assert page.status_code == 200
    assert b"0 30 2 * * *" in page.content
    assert b"from the SDK" in page.content

    assert [s.name for s in sdk.get_all_schedules()] == [NAME]
    assert [s.name for s in sdk.get_all_schedules("core.echo")] == [NAME]
    assert sdk.get_all_schedules("core.sleep") == []

    # Saving again replaces it (upsert by name), keeping its creation.
    sdk.save_schedule(_save_request(run_catchup_schedule_instances=True))
    again = sdk.get_schedule(NAME)
    assert again.run_catchup_schedule_instances is True
    assert again.create_time == got.create_time
    assert native.get(f"/api/v1/schedules/{NAME}/").json()["missed_policy"] == "run_all"


def test_pause_resume_and_the_all_variants_show_in_the_native_api(
    sdk: OrkesSchedulerClient, native: APIClient
) -> None:
    sdk.save_schedule(_save_request())
    sdk.save_schedule(
        _save_request(name="core.echo-hourly", cron_expression="0 0 * * * *")
    )

    sdk.pause_schedule(NAME, reason="maintenance")
    row = native.get(f"/api/v1/schedules/{NAME}/").json()
    assert (row["is_paused"], row["paused_reason"]) == (True, "maintenance")
    assert sdk.get_schedule(NAME).paused_reason == "maintenance"
    sdk.resume_schedule(NAME)
    assert native.get(f"/api/v1/schedules/{NAME}/").json()["is_paused"] is False

    sdk.pause_all_schedules()
    rows = native.get("/api/v1/schedules/").json()
    rows = rows["results"] if isinstance(rows, dict) else rows
    assert [r["is_paused"] for r in rows] == [True, True]
    sdk.resume_all_schedules()
    assert not Schedule.objects.filter(is_paused=True).exists()

    # The domain helpers raise typed errors.
    sdk.pause(NAME)
    assert Schedule.objects.get(name=NAME).is_paused
    sdk.resume(NAME)
    assert not Schedule.objects.get(name=NAME).is_paused
    with pytest.raises(ScheduleNotFound):
        sdk.pause("core.echo-ghost")


def test_tags_round_trip_and_show_in_the_native_api(
    sdk: OrkesSchedulerClient, native: APIClient
) -> None:
    sdk.save_schedule(_save_request())
    sdk.set_scheduler_tags(
        [MetadataTag("team", "ops"), MetadataTag("tier", "gold")], NAME
    )
    tags = sdk.get_scheduler_tags(NAME)
    assert sorted((t.key, t.value, t.type) for t in tags) == [
        ("team", "ops", "METADATA"),
        ("tier", "gold", "METADATA"),
    ]
    assert native.get(f"/api/v1/schedules/{NAME}/").json()["tags"] == {
        "team": "ops",
        "tier": "gold",
    }
    assert [t.key for t in sdk.get_schedule(NAME).tags] == ["team", "tier"]
    sdk.delete_scheduler_tags([MetadataTag("team", "ops")], NAME)
    assert [t.key for t in sdk.get_scheduler_tags(NAME)] == ["tier"]


def test_next_times_and_preview_in_both_cron_dialects(
    sdk: OrkesSchedulerClient,
) -> None:
    start = datetime(2031, 6, 1, tzinfo=UTC)
    times = sdk.get_next_few_schedule_execution_times(
        "0 0 12 * * MON-FRI",
        schedule_start_time=to_ms(start),
        schedule_end_time=to_ms(datetime(2031, 6, 30, tzinfo=UTC)),
        limit=3,
    )
    assert times == [to_ms(datetime(2031, 6, day, 12, tzinfo=UTC)) for day in (2, 3, 4)]
    assert len(sdk.get_next_few_schedule_execution_times("*/5 * * * *")) == 5
    assert len(sdk.preview_next("0 0 * * * *", n=7)) == 7
    with pytest.raises(InvalidCronExpression):
        sdk.preview_next("0 0 0 31 2 *")


def test_search_and_requeue_see_the_schedule_runs(
    sdk: OrkesSchedulerClient, native: APIClient
) -> None:
    sdk.save_schedule(_save_request())
    schedule = Schedule.objects.get(name=NAME)
    now = timezone.now()
    run = jobrun_enqueue(
        schedule=schedule, trigger="scheduled", scheduled_for=now, now=now, send=False
    )
    found = sdk.search_schedule_executions(query=f"scheduleName IN ({NAME})")
    assert found.total_hits == 1
    execution = found.results[0]
    assert (execution.execution_id, execution.state) == (str(run.pk), "POLLED")
    assert execution.scheduled_time == to_ms(now)
    assert execution.start_workflow_request.correlation_id == "corr-7"
    assert native.get(f"/api/v1/runs/{run.pk}/").json()["status"] == "queued"
    paged = sdk.search_schedule_executions(
        start=1, size=10, sort="scheduledTime:DESC", query="state IN (POLLED)"
    )
    assert (paged.total_hits, paged.results) == (1, [])

    sent_before = JobRun.objects.get(pk=run.pk).sent_at
    time.sleep(0.01)
    sdk.requeue_all_execution_records()
    assert JobRun.objects.get(pk=run.pk).sent_at > sent_before


def test_run_now_delete_and_reconcile(
    sdk: OrkesSchedulerClient, native: APIClient
) -> None:
    sdk.save_schedule(_save_request())
    info = _get_info(sdk, NAME)
    run_id = sdk.run_now(info)
    run = native.get(f"/api/v1/runs/{run_id}/").json()
    assert (run["service"], run["trigger"], run["status"]) == (
        "core.echo",
        "api",
        "queued",
    )
    assert JobRun.objects.get(pk=int(run_id)).input == {"report": "daily"}

    sdk.reconcile("core.echo", [AgentSchedule(name="hourly", cron="0 0 * * * *")])
    assert sorted(s.name for s in sdk.get_all_schedules("core.echo")) == [
        "core.echo-hourly"
    ]
    with pytest.raises(InvalidCronExpression):
        sdk.reconcile("core.echo", [AgentSchedule(name="bad", cron="61 * * * *")])

    sdk.delete_schedule("core.echo-hourly")
    assert sdk.get_schedule("core.echo-hourly") is None
    assert native.get("/api/v1/schedules/core.echo-hourly/").status_code == 404
    sdk.delete("core.echo-ghost")  # a missing schedule: silent, as in Conductor
    sdk.schedulerResourceApi.test_timeout()


def test_errors_reach_the_sdk_with_conductor_status_codes(
    sdk: OrkesSchedulerClient,
) -> None:
    with pytest.raises(ApiException) as error:
        sdk.save_schedule(_save_request(cron_expression="0 0 0 31 2 *"))
    assert error.value.status == 400
    assert "cronExpression" in error.value.body
    with pytest.raises(ApiException) as missing:
        sdk.resume_schedule("core.echo-ghost")
    assert missing.value.status == 404


@pytest.mark.requires_postgres
@pytest.mark.requires_redis
@pytest.mark.requires_worker
def test_start_workflow_runs_the_service_on_a_real_worker(
    sdk: OrkesSchedulerClient, native: APIClient, celery_worker: Any
) -> None:
    from conductor.client.ai.schedule import ScheduleInfo

    info = ScheduleInfo(
        name="adhoc", short_name="adhoc", agent="core.echo", cron="", timezone="UTC",
        input={"hello": "worker"}, paused=False, paused_reason=None, catchup=False,
        start_at=None, end_at=None, description=None, next_run=None,
        create_time=None, update_time=None, created_by=None, updated_by=None,
    )  # fmt: skip
    run_id = sdk.run_now(info)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = JobRun.objects.values_list("status", flat=True).get(pk=int(run_id))
        if status not in JobRun.ACTIVE:
            break
        time.sleep(0.2)
    run = native.get(f"/api/v1/runs/{run_id}/").json()
    assert run["status"] == "succeeded", run
    assert JobRun.objects.get(pk=int(run_id)).output["input"] == {"hello": "worker"}
