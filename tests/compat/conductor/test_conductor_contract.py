"""The Conductor wire contract over plain HTTP: shapes, errors, 405s, auth, search."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from compat.conductor.models import ConductorApiKey
from compat.conductor.services import (
    conductor_api_key_revoke,
    to_ms,
)
from jobruns.dispatcher import dispatch_due
from jobruns.models import JobRun
from jobruns.services import jobrun_enqueue
from schedules.models import Schedule
from schedules.services import schedule_create
from tests.compat.conductor.conftest import CRON, save_request, token_for

pytestmark = pytest.mark.django_db

API = "/api/scheduler"
As = Callable[[Any], APIClient]


@pytest.fixture
def api(editor: Any) -> APIClient:
    """An editor; authenticated directly, so tests may move the clock (tokens
    are covered by the auth tests and the SDK tests)."""
    client = APIClient()
    client.force_authenticate(editor)
    return client


def _save(api: APIClient, **body: Any) -> dict[str, Any]:
    response = api.post(f"{API}/schedules", save_request(**body), format="json")
    assert response.status_code == 200, response.content
    return dict(response.json())


def _error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = dict(response.json())
    assert body["status"] == status
    assert {"message", "instance", "retryable"} <= set(body)
    return body


# --- saving and reading ---------------------------------------------------------------
def test_save_applies_conductor_defaults_and_answers_the_workflow_schedule(
    api: APIClient, editor: Any
) -> None:
    body = _save(api)
    assert body["name"] == "nightly"
    assert body["cronExpression"] == CRON
    assert body["zoneId"] == "UTC"
    assert body["paused"] is False
    assert body["runCatchupScheduleInstances"] is False
    assert body["startWorkflowRequest"] == {
        "name": "core.echo",
        "input": {"report": "daily"},
        "priority": 0,
    }
    assert body["createdBy"] == body["updatedBy"] == editor.username
    assert body["tags"] == []
    assert body["cronSchedules"] == []
    assert "pausedReason" not in body
    assert "scheduleStartTime" not in body
    schedule = Schedule.objects.get(name="nightly")
    assert schedule.next_run_at is not None
    assert body["nextRunTime"] == to_ms(schedule.next_run_at)
    assert body["createTime"] == to_ms(schedule.created_at)
    assert (schedule.cron_dialect, schedule.missed_policy) == ("spring", "skip")


def test_save_by_an_existing_name_replaces_the_schedule(api: APIClient) -> None:
    first = _save(
        api,
        description="first",
        scheduleStartTime=to_ms(datetime(2031, 1, 1, tzinfo=UTC)),
        startWorkflowRequest={
            "name": "core.echo",
            "correlationId": "corr-1",
            "priority": 7,
            "version": 3,
            "taskToDomain": {"a": "b"},
        },
    )
    second = _save(api, zoneId="Europe/Berlin", runCatchupScheduleInstances=True)
    assert Schedule.objects.count() == 1
    assert second["createTime"] == first["createTime"]
    assert second["zoneId"] == "Europe/Berlin"
    assert second["runCatchupScheduleInstances"] is True
    # Replace: what the second request left out is reset, not kept.
    assert second["description"] == ""
    assert "scheduleStartTime" not in second
    assert second["startWorkflowRequest"] == {
        "name": "core.echo",
        "input": {"report": "daily"},
        "priority": 0,
    }
    assert first["startWorkflowRequest"]["version"] == 3
    assert first["startWorkflowRequest"]["correlationId"] == "corr-1"
    schedule = Schedule.objects.get()
    assert schedule.missed_policy == Schedule.MissedPolicy.RUN_ALL


def test_epoch_millisecond_bounds_and_a_unix_cron_are_accepted(api: APIClient) -> None:
    start = datetime(2031, 3, 1, 8, 0, tzinfo=UTC)
    end = datetime(2031, 4, 1, tzinfo=UTC)
    body = _save(
        api,
        cronExpression="15 9 * * 1-5",
        scheduleStartTime=to_ms(start),
        scheduleEndTime=to_ms(end),
    )
    assert (body["scheduleStartTime"], body["scheduleEndTime"]) == (
        to_ms(start),
        to_ms(end),
    )
    assert body["nextRunTime"] == to_ms(datetime(2031, 3, 3, 9, 15, tzinfo=UTC))
    assert Schedule.objects.get().cron_dialect == "unix"


def test_a_paused_save_records_the_reason_and_has_no_next_run(api: APIClient) -> None:
    body = _save(api, paused=True, pausedReason="migration")
    assert body["paused"] is True
    assert body["pausedReason"] == "migration"
    assert "nextRunTime" not in body


@pytest.mark.parametrize(
    ("cron", "words"),
    [
        ("0 0 0 30 2 *", "never fires"),
        ("0 0 0 * * * 2030", "7 fields"),
        ("nonsense", "1 fields"),
    ],
)
def test_a_bad_cron_answers_400_naming_the_problem(
    api: APIClient, cron: str, words: str
) -> None:
    response = api.post(
        f"{API}/schedules", save_request(cronExpression=cron), format="json"
    )
    body = _error(response, 400)
    assert body["message"].startswith("cronExpression: ")
    assert words in body["message"]
    assert body["validationErrors"][0]["path"] == "cronExpression"


def test_an_unknown_service_and_zone_are_named_by_their_wire_fields(
    api: APIClient,
) -> None:
    response = api.post(
        f"{API}/schedules",
        save_request(zoneId="Mars/Base", startWorkflowRequest={"name": "no.such"}),
        format="json",
    )
    body = _error(response, 400)
    paths = {error["path"] for error in body["validationErrors"]}
    assert paths == {"zoneId", "startWorkflowRequest.name"}


def test_a_missing_schedule_is_an_empty_200_and_a_missing_name_in_pause_a_404(
    api: APIClient,
) -> None:
    response = api.get(f"{API}/schedules/ghost")
    assert response.status_code == 200
    assert response.content == b""
    body = _error(api.put(f"{API}/schedules/ghost/pause"), 404)
    assert body["message"] == "Schedule 'ghost' not found"
    assert body["retryable"] is False
    _error(api.get(f"{API}/schedules/ghost/tags"), 404)
    # Deleting what is not there is a silent 200, as in Conductor.
    assert api.delete(f"{API}/schedules/ghost").status_code == 200


def test_list_filters_by_workflow_name_with_a_fixed_number_of_queries(
    api: APIClient, django_assert_max_num_queries: Any
) -> None:
    for index in range(3):
        _save(api, name=f"echo-{index}", tags=[{"key": "team", "value": "ops"}])
    _save(api, name="sleepy", startWorkflowRequest={"name": "core.sleep"})
    with django_assert_max_num_queries(6):
        response = api.get(f"{API}/schedules")
    assert [s["name"] for s in response.json()] == [
        "echo-0",
        "echo-1",
        "echo-2",
        "sleepy",
    ]
    only = api.get(f"{API}/schedules", {"workflowName": "core.sleep"}).json()
    assert [s["name"] for s in only] == ["sleepy"]
    assert response.json()[0]["tags"] == [
        {"key": "team", "type": "METADATA", "value": "ops"}
    ]


# --- pause, resume, tags --------------------------------------------------------------
def test_pause_and_resume_answer_to_put_and_to_get(api: APIClient) -> None:
    _save(api)
    assert api.put(f"{API}/schedules/nightly/pause?reason=disk+full").status_code == 200
    schedule = Schedule.objects.get()
    assert (schedule.is_paused, schedule.paused_reason) == (True, "disk full")
    assert api.get(f"{API}/schedules/nightly/resume").status_code == 200
    assert Schedule.objects.get().is_paused is False
    assert api.get(f"{API}/schedules/nightly/pause").status_code == 200
    assert Schedule.objects.get().is_paused is True
    assert api.put(f"{API}/schedules/nightly/resume").status_code == 200
    # Not paused: a no-op 200 (OSS answers 404 here; see the view).
    assert api.put(f"{API}/schedules/nightly/resume").status_code == 200


def test_pause_all_and_resume_all_in_both_dialects(api: APIClient) -> None:
    _save(api, name="a")
    _save(api, name="b")
    assert api.get(f"{API}/admin/pause").json() == {"status": "done"}
    assert set(Schedule.objects.values_list("is_paused", flat=True)) == {True}
    assert Schedule.objects.filter(paused_reason__contains="Conductor").count() == 2
    assert api.get(f"{API}/admin/resume").json() == {"status": "done"}
    assert set(Schedule.objects.values_list("is_paused", flat=True)) == {False}
    assert api.put(f"{API}/schedules/pause").json() == {"status": "done"}
    assert Schedule.objects.filter(is_paused=True).count() == 2
    assert api.put(f"{API}/schedules/resume").json() == {"status": "done"}
    assert Schedule.objects.filter(is_paused=True).count() == 0


def test_tags_are_replaced_read_and_removed_by_key_and_value(api: APIClient) -> None:
    _save(api)
    url = f"{API}/schedules/nightly/tags"
    tags = [
        {"key": "team", "type": "METADATA", "value": "ops"},
        {"key": "tier", "type": "METADATA", "value": "1"},
    ]
    assert api.put(url, tags, format="json").status_code == 200
    assert api.get(url).json() == tags
    # A pair whose value does not match is left alone.
    api.delete(
        url, [{"key": "team", "type": "METADATA", "value": "dev"}], format="json"
    )
    assert len(api.get(url).json()) == 2
    api.delete(
        url, [{"key": "team", "type": "METADATA", "value": "ops"}], format="json"
    )
    assert api.get(url).json() == [tags[1]]
    # The docs' POST works like PUT.
    assert api.post(url, tags[:1], format="json").status_code == 200
    assert api.get(url).json() == tags[:1]
    bad = api.put(url, [{"key": "x", "type": "SECRET", "value": 1}], format="json")
    assert _error(bad, 400)["validationErrors"][0]["path"].endswith("type")


# --- 405 and unknown paths ------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("patch", "/schedules"),
        ("post", "/schedules/nightly"),
        ("delete", "/schedules/nightly/pause"),
        ("post", "/schedules/nightly/resume"),
        ("post", "/admin/pause"),
        ("delete", "/nextFewSchedules"),
        ("put", "/search/executions"),
    ],
)
def test_a_wrong_method_answers_405_with_the_error_body(
    api: APIClient, method: str, path: str
) -> None:
    response = getattr(api, method)(f"{API}{path}")
    body = _error(response, 405)
    assert method.upper() in body["message"]
    assert response["Allow"]


def test_a_wrong_method_is_405_even_without_credentials() -> None:
    _error(APIClient().delete(f"{API}/admin/pause"), 405)


def test_an_unknown_path_under_the_scheduler_answers_404_with_the_error_body(
    api: APIClient,
) -> None:
    _error(api.get(f"{API}/no/such/thing"), 404)
    _error(api.post(f"{API}/bulk/pause"), 404)


# --- auth -----------------------------------------------------------------------------
def test_calls_without_a_token_are_refused_when_keys_are_required() -> None:
    response = APIClient().get(f"{API}/schedules")
    body = _error(response, 401)
    assert "error" not in body
    assert response["WWW-Authenticate"].startswith("X-Authorization")


def test_a_bad_token_answers_invalid_token() -> None:
    client = APIClient()
    client.credentials(HTTP_X_AUTHORIZATION="forged")
    assert _error(client.get(f"{API}/schedules"), 401)["error"] == "INVALID_TOKEN"


def test_an_old_token_answers_expired_token(
    make_key: Callable[[Any], tuple[str, str]], editor: Any, settings: Any
) -> None:
    settings.CONDUCTOR_TOKEN_TTL_SECONDS = 60
    with time_machine.travel(timezone.now() - timedelta(minutes=5)):
        token = token_for(*make_key(editor))
    client = APIClient()
    client.credentials(HTTP_X_AUTHORIZATION=token)
    assert _error(client.get(f"{API}/schedules"), 401)["error"] == "EXPIRED_TOKEN"


def test_revoking_a_key_ends_its_tokens_at_once(
    make_key: Callable[[Any], tuple[str, str]], editor: Any
) -> None:
    key_id, secret = make_key(editor)
    client = APIClient()
    client.credentials(HTTP_X_AUTHORIZATION=token_for(key_id, secret))
    assert client.get(f"{API}/schedules").status_code == 200
    key = ConductorApiKey.objects.get(key_id=key_id)
    assert key.last_used_at is not None
    conductor_api_key_revoke(key=key, now=timezone.now())
    assert _error(client.get(f"{API}/schedules"), 401)["error"] == "INVALID_TOKEN"
    refused = APIClient().post(
        "/api/token", {"keyId": key_id, "keySecret": secret}, format="json"
    )
    _error(refused, 401)


def test_a_wrong_secret_gets_no_token_and_only_a_digest_is_stored(
    make_key: Callable[[Any], tuple[str, str]], editor: Any
) -> None:
    key_id, secret = make_key(editor)
    response = APIClient().post(
        "/api/token", {"keyId": key_id, "keySecret": secret + "x"}, format="json"
    )
    assert "error" not in _error(response, 401)
    stored = ConductorApiKey.objects.get(key_id=key_id)
    assert secret not in stored.secret_digest
    assert len(stored.secret_digest) == 64


def test_the_token_endpoint_is_throttled(
    settings: Any, make_key: Callable[[Any], tuple[str, str]], editor: Any
) -> None:
    settings.CONDUCTOR_TOKEN_RATE = "2/minute"
    key_id, secret = make_key(editor)
    body = {"keyId": key_id, "keySecret": secret}
    codes = [
        APIClient().post("/api/token", body, format="json").status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 429]


def test_each_role_may_do_what_its_group_allows(
    conductor_as: As, viewer: Any, operator: Any, editor: Any
) -> None:
    _save(conductor_as(editor))
    as_viewer, as_operator = conductor_as(viewer), conductor_as(operator)
    assert as_viewer.get(f"{API}/schedules/nightly").status_code == 200
    assert as_viewer.get(f"{API}/search/executions").status_code == 200
    _error(as_viewer.put(f"{API}/schedules/nightly/pause"), 403)
    assert as_operator.put(f"{API}/schedules/nightly/pause").status_code == 200
    _error(as_operator.post(f"{API}/schedules", save_request(), format="json"), 403)
    _error(as_operator.delete(f"{API}/schedules/nightly"), 403)
    _error(as_viewer.post("/api/workflow", {"name": "core.echo"}, format="json"), 403)


def test_open_mode_acts_as_the_configured_service_user(open_mode: Any) -> None:
    body = _save(APIClient())
    assert body["createdBy"] == "conductor"
    assert Schedule.objects.get().created_by == open_mode


def test_open_mode_without_its_user_says_what_to_create(
    settings: Any,
) -> None:
    settings.CONDUCTOR_AUTH_REQUIRED = False
    settings.CONDUCTOR_ANONYMOUS_USER = "nobody-here"
    body = _error(APIClient().get(f"{API}/schedules"), 500)
    assert "nobody-here" in body["message"]


# --- next fire times ------------------------------------------------------------------
@time_machine.travel(datetime(2030, 1, 7, 12, 0, tzinfo=UTC), tick=False)
def test_next_few_schedules_defaults_to_five_in_utc(api: APIClient) -> None:
    times = api.get(f"{API}/nextFewSchedules", {"cronExpression": "0 0 * * * *"})
    assert times.json() == [
        to_ms(datetime(2030, 1, 7, hour, 0, tzinfo=UTC)) for hour in range(13, 18)
    ]


@time_machine.travel(datetime(2030, 1, 7, 12, 0, tzinfo=UTC), tick=False)
def test_next_few_schedules_honours_start_end_and_limit(api: APIClient) -> None:
    start = to_ms(datetime(2030, 2, 1, tzinfo=UTC))
    end = to_ms(datetime(2030, 2, 3, 23, 0, tzinfo=UTC))
    params: dict[str, Any] = {
        "cronExpression": "0 0 6 * * *",
        "scheduleStartTime": start,
        "scheduleEndTime": end,
        "limit": 10,
    }
    times = api.get(f"{API}/nextFewSchedules", params).json()
    assert times == [to_ms(datetime(2030, 2, day, 6, tzinfo=UTC)) for day in (1, 2, 3)]
    few = api.get(f"{API}/nextFewRuns", {**params, "limit": 2}).json()
    assert few == times[:2]
    past_end: dict[str, Any] = {
        **params,
        "scheduleEndTime": to_ms(datetime(2029, 1, 1, tzinfo=UTC)),
    }
    assert api.get(f"{API}/nextFewSchedules", past_end).json() == []
    too_many: dict[str, Any] = {"cronExpression": "* * * * * *", "limit": 500}
    many = api.get(f"{API}/nextFewSchedules", too_many).json()
    assert len(many) == 100


def test_next_few_schedules_reads_five_fields_as_unix_and_refuses_bad_ones(
    api: APIClient,
) -> None:
    unix = api.get(f"{API}/nextFewSchedules", {"cronExpression": "*/15 * * * *"})
    times = unix.json()
    assert [b - a for a, b in itertools.pairwise(times)] == [900_000] * 4
    bad = api.get(f"{API}/nextFewSchedules", {"cronExpression": "0 0 25 * * *"})
    assert "cronExpression" in _error(bad, 400)["message"]
    _error(api.get(f"{API}/nextFewSchedules"), 400)


# --- runs -----------------------------------------------------------------------------
def test_scheduled_runs_get_conductor_input_keys_and_correlation_id(
    api: APIClient,
) -> None:
    with time_machine.travel(datetime(2030, 1, 7, 12, 0, tzinfo=UTC), tick=False):
        _save(
            api,
            cronExpression="0 */10 * * * *",
            startWorkflowRequest={
                "name": "core.echo",
                "input": {"a": 1},
                "correlationId": "order-42",
            },
        )
    fire = datetime(2030, 1, 7, 12, 10, tzinfo=UTC)
    with time_machine.travel(fire + timedelta(seconds=1), tick=False):
        assert dispatch_due(now=timezone.now()) == 1
    run = JobRun.objects.get()
    assert run.correlation_id == "order-42"
    assert run.input == {
        "a": 1,
        "_startedByScheduler": "nightly",
        "_scheduledTime": to_ms(fire),
        "_executedTime": to_ms(fire + timedelta(seconds=1)),
        "_executionId": str(run.pk),
        "_schedulerCron": "0 */10 * * * * UTC",
    }


def test_schedules_made_elsewhere_keep_their_input_untouched(db: None) -> None:
    now = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
    schedule = schedule_create(
        data={"name": "native", "kind": "cron", "cron_expression": "*/10 * * * *",
              "target": "core.echo", "input": {"a": 1}},
        by=None, now=now,
    )  # fmt: skip
    assert schedule.next_run_at is not None
    dispatch_due(now=schedule.next_run_at + timedelta(seconds=1))
    assert JobRun.objects.get().input == {"a": 1}


def test_start_workflow_queues_a_run_and_answers_its_id_as_text(
    api: APIClient, editor: Any
) -> None:
    response = api.post(
        "/api/workflow",
        {"name": "core.echo", "input": {"x": 1}, "correlationId": "c-1"},
        format="json",
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    run = JobRun.objects.get(pk=int(response.content))
    assert (run.service, run.input, run.correlation_id) == (
        "core.echo",
        {"x": 1},
        "c-1",
    )
    assert (run.trigger, run.triggered_by) == ("api", editor)
    missing = api.post("/api/workflow", {"name": "no.such"}, format="json")
    assert "no.such" in _error(missing, 404)["message"]


def test_requeue_resends_queued_runs_and_reports_them(api: APIClient) -> None:
    runs = [
        jobrun_enqueue(
            service="core.echo", trigger="api", now=timezone.now(), send=False
        )
        for _ in range(2)
    ]
    body = api.get(f"{API}/admin/requeue").json()
    assert body == {"recordIds.size": 2, "sampleIds": [str(r.pk) for r in runs]}
    assert api.post(f"{API}/requeue").json()["recordIds.size"] == 2


# --- execution search -----------------------------------------------------------------
@pytest.fixture
def history(api: APIClient) -> dict[str, JobRun]:
    """Three schedules' runs in the three wire states, one minute apart."""
    for name, service in (("alpha", "core.echo"), ("beta", "core.sleep")):
        _save(api, name=name, startWorkflowRequest={"name": service})
    base = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
    runs = {}
    for minute, (name, status) in enumerate(
        [("alpha", "succeeded"), ("alpha", "failed"), ("beta", "queued"),
         ("beta", "in_progress"), ("alpha", "cancelled")]
    ):  # fmt: skip
        schedule = Schedule.objects.get(name=name)
        at = base + timedelta(minutes=minute)
        run = jobrun_enqueue(schedule=schedule, trigger="scheduled", scheduled_for=at,
                             now=at, send=False)  # fmt: skip
        JobRun.objects.filter(pk=run.pk).update(
            status=status,
            skip_reason="",  # the overlap policy skipped some; make them real runs
            error="boom" if status == "failed" else "",
        )
        runs[f"{name}-{minute}"] = run
    jobrun_enqueue(service="core.echo", trigger="api", now=base, send=False)  # ad hoc
    return runs


def _search(api: APIClient, **params: Any) -> dict[str, Any]:
    response = api.get(f"{API}/search/executions", params)
    assert response.status_code == 200, response.content
    return dict(response.json())


def _ids(body: dict[str, Any]) -> list[str]:
    return [result["executionId"] for result in body["results"]]


def test_search_lists_schedule_runs_newest_first_in_wire_states(
    api: APIClient, history: dict[str, JobRun]
) -> None:
    body = _search(api)
    assert body["totalHits"] == 5  # the ad-hoc run is no schedule execution
    assert [r["state"] for r in body["results"]] == [
        "FAILED", "EXECUTED", "POLLED", "FAILED", "EXECUTED",
    ]  # fmt: skip
    failed = body["results"][3]
    assert (failed["reason"], failed["scheduleName"]) == ("boom", "alpha")
    first = body["results"][-1]
    assert first["scheduledTime"] == to_ms(datetime(2030, 1, 7, 12, 0, tzinfo=UTC))
    assert first["workflowName"] == first["startWorkflowRequest"]["name"] == "core.echo"
    assert first["workflowId"] == first["executionId"]
    assert first["zoneId"] == "UTC"


def test_search_parses_the_query_grammar(
    api: APIClient, history: dict[str, JobRun]
) -> None:
    def hits(query: str) -> int:
        return int(_search(api, query=query)["totalHits"])

    t2 = to_ms(datetime(2030, 1, 7, 12, 2, tzinfo=UTC))
    assert hits("scheduleName IN (beta)") == 2
    assert hits("scheduleName IN (alpha,beta) AND state IN (FAILED)") == 2
    assert hits("state IN (EXECUTED,POLLED)") == 3
    assert hits(f"scheduledTime>{t2}") == 2
    assert hits(f"scheduledTime<{t2} AND scheduleName IN (alpha)") == 2
    assert hits("workflowName=SLEEP") == 2
    assert hits(f"executionId={history['beta-2'].pk}") == 1
    assert hits("beta") == 2  # a bare clause is a schedule name
    # The SDK docs' variant: quotes, status with workflow statuses, unknown fields.
    assert hits("scheduleName='alpha' AND status='COMPLETED'") == 1
    assert hits("scheduleName=\"alpha\" AND owner='me'") == 3
    bad = api.get(f"{API}/search/executions", {"query": "scheduledTime>yesterday"})
    assert "epoch milliseconds" in _error(bad, 400)["message"]


def test_search_sorts_and_pages_and_reports_total_hits(
    api: APIClient, history: dict[str, JobRun]
) -> None:
    ascending = _search(api, sort="scheduledTime:ASC")
    assert _ids(ascending) == [str(run.pk) for run in history.values()]
    page = _search(api, sort="scheduledTime:ASC", start=1, size=2)
    assert page["totalHits"] == 5
    assert _ids(page) == _ids(ascending)[1:3]
    by_name = _search(api, sort="scheduleName:ASC,startTime:DESC")
    assert [r["scheduleName"] for r in by_name["results"]] == ["alpha"] * 3 + [
        "beta"
    ] * 2
    assert _ids(by_name)[0] == str(history["alpha-4"].pk)


def test_search_sorted_by_name_breaks_ties_by_time_in_the_same_direction(
    api: APIClient, history: dict[str, JobRun]
) -> None:
    # One index scan each way (jobrun_by_name_idx): alpha's runs oldest first
    # ascending, beta's newest first descending.
    ascending = _search(api, sort="scheduleName:ASC")
    descending = _search(api, sort="scheduleName:DESC")
    alpha = [str(history[key].pk) for key in ("alpha-0", "alpha-1", "alpha-4")]
    beta = [str(history[key].pk) for key in ("beta-2", "beta-3")]
    assert _ids(ascending) == alpha + beta
    assert _ids(descending) == beta[::-1] + alpha[::-1]


def test_search_counts_no_further_than_it_must(
    api: APIClient, history: dict[str, JobRun]
) -> None:
    def counts(queries: Any) -> list[str]:
        return [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"]]

    # A page short of `size` knows the total: no count statement.
    with CaptureQueriesContext(connection) as queries:
        assert _search(api, size=10)["totalHits"] == 5
    assert counts(queries) == []
    # A full page counts, but stops after EXACT_COUNT_UP_TO + 1 rows.
    with CaptureQueriesContext(connection) as queries:
        assert _search(api, size=2)["totalHits"] == 5
    [count] = counts(queries)
    assert "LIMIT 10001" in count


@pytest.mark.requires_postgres
def test_search_reports_an_estimate_past_the_exact_count_bound(
    api: APIClient, history: dict[str, JobRun], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("core.counting.EXACT_COUNT_UP_TO", 3)
    with CaptureQueriesContext(connection) as queries:
        body = _search(api, size=2, start=2)
    assert len(body["results"]) == 2
    assert body["totalHits"] >= 4  # never below what the bounded count saw
    sql = [q["sql"] for q in queries.captured_queries]
    assert [s for s in sql if "COUNT(" in s and "LIMIT 4" not in s] == [], sql
    assert any(s.startswith("EXPLAIN") for s in sql), sql
