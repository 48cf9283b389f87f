"""Hostile input found by fuzzing the live server: 4xx in the API's shape, no 500."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client

from core.accounts import api_token_create
from schedules.services import schedule_create

NOON = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
# ~2 KB (and ~10 KB) bodies that raise RecursionError in json.loads / later walks.
DEEP_2KB = "[" * 1000 + "]" * 1000
DEEP_10KB = '{"a":' * 2000 + "1" + "}" * 2000
DEEP_BUT_PARSEABLE = "[" * 100 + "]" * 100

V2_VERIFY = "/v2/components/woocommerce/versions/latest/verify-credential"
POSTS = {
    "native": "/api/v1/schedules/",
    "conductor": "/api/scheduler/schedules",
    "openspecimen": "/rest/ng/scheduled-jobs",
    "elasticio-v1": "/v1/exec/schedule",
    "elasticio-v2": V2_VERIFY,
}


@pytest.fixture
def api(client: Client, superuser: Any) -> Client:
    _, token = api_token_create(user=superuser, name="fuzz")
    client.defaults.update(
        HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_X_OS_API_TOKEN=token
    )
    return client


def assert_in_shape(api_name: str, response: Any, status: int) -> None:
    assert response.status_code == status, response.content[:500]
    body = response.json()
    if api_name == "native":
        assert response["Content-Type"] == "application/problem+json"
        assert body["status"] == status
    elif api_name == "conductor":
        assert body["status"] == status
        assert body["message"]
    elif api_name == "openspecimen":
        assert isinstance(body, list)
        assert body[0]["code"]
    elif api_name == "elasticio-v1":
        assert body["message"]
    else:
        assert body["errors"][0]["status"] == status


@pytest.mark.parametrize("body", [DEEP_2KB, DEEP_10KB, DEEP_BUT_PARSEABLE])
@pytest.mark.parametrize("api_name", list(POSTS))
def test_json_nested_too_deep_is_refused_with_400_in_each_apis_shape(
    api: Client, api_name: str, body: str
) -> None:
    response = api.post(POSTS[api_name], body, content_type="application/json")

    assert_in_shape(api_name, response, 400)
    assert "nested more than 64 levels" in response.content.decode()


def test_json_nested_as_deep_as_the_limit_still_reaches_validation(
    api: Client,
) -> None:
    body = json.dumps({"name": "x", "input": json.loads("[" * 60 + "]" * 60)})
    response = api.post(POSTS["native"], body, content_type="application/json")

    assert response.status_code == 400
    assert "nested" not in response.content.decode()


def test_a_nul_in_a_conductor_path_is_a_404_in_conductors_shape(api: Client) -> None:
    response = api.get("/api/scheduler/schedules/x%00")

    assert_in_shape("conductor", response, 404)


@pytest.mark.parametrize(
    ("api_name", "path"),
    [
        ("native", "/api/v1/schedules/x%00/"),
        ("openspecimen", "/rest/ng/scheduled-jobs/1%00"),
        ("elasticio-v2", "/v2/exec/poll/x%00"),
        ("elasticio-v1", "/v1/exec/result/x%00"),
    ],
)
def test_a_nul_in_any_api_path_is_a_404_in_that_apis_shape(
    api: Client, api_name: str, path: str
) -> None:
    assert_in_shape(api_name, api.get(path), 404)


def test_a_nul_in_a_query_parameter_is_a_400(api: Client) -> None:
    assert_in_shape("native", api.get("/api/v1/schedules/?search=a%00"), 400)
    assert_in_shape("conductor", api.get("/api/scheduler/schedules?x%00=1"), 400)


def test_a_nul_in_a_tag_key_is_a_field_error(api: Client) -> None:
    schedule_create(
        data={"name": "tagged", "kind": "interval", "interval_hours": 1,
              "start_at": NOON, "target": "core.echo"},
        by=None, now=NOON, allow_past=True,
    )  # fmt: skip

    response = api.put(
        "/api/v1/schedules/tagged/tags/",
        json.dumps({"tags": {"k\u0000": "v"}}),
        content_type="application/json",
    )

    assert_in_shape("native", response, 400)
    assert "NUL" in response.json()["errors"]["tags"][0]


@pytest.mark.parametrize(
    "query",
    [
        "scheduleStartTime=-99999999999999999",
        "scheduleEndTime=99999999999999999999",
        "scheduleStartTime=1700000000000&scheduleEndTime=99999999999999999999",
    ],
)
def test_next_few_schedules_refuses_epoch_millis_out_of_range_with_400(
    api: Client, query: str
) -> None:
    response = api.get(
        f"/api/scheduler/nextFewSchedules?cronExpression=0+0+*+*+*+*&{query}"
    )

    assert_in_shape("conductor", response, 400)
    assert "epoch milliseconds" in response.json()["message"]


def test_execution_search_refuses_epoch_millis_out_of_range_with_400(
    api: Client,
) -> None:
    response = api.get(
        "/api/scheduler/search/executions?query=scheduledTime>99999999999999999999"
    )

    assert_in_shape("conductor", response, 400)


# --- accepted but wrong -------------------------------------------------------------
def _create(api: Client, **fields: Any) -> Any:
    body = {"name": "nightly", "kind": "cron", "cron_expression": "0 2 * * *",
            "time_zone": "Europe/Berlin", "target": "core.echo", **fields}  # fmt: skip
    return api.post(
        "/api/v1/schedules/", json.dumps(body), content_type="application/json"
    )


@pytest.mark.parametrize("cron", ["0 \uff12 * * *", "\uff10 2 * * *", "0\u30002 * * *"])
def test_a_cron_field_with_a_digit_or_space_of_another_script_is_refused(
    api: Client, cron: str
) -> None:
    response = _create(api, cron_expression=cron)

    assert_in_shape("native", response, 400)
    assert "plain ASCII" in response.json()["errors"]["cron_expression"][0]


@pytest.mark.parametrize("zone", ["localtime", "posixrules", "Factory", "right/UTC"])
def test_tz_database_entries_that_are_not_places_are_refused(
    api: Client, zone: str
) -> None:
    response = _create(api, time_zone=zone)

    assert_in_shape("native", response, 400)
    assert "time_zone" in response.json()["errors"]


def test_a_user_cannot_choose_a_zone_that_is_not_a_place(api: Client) -> None:
    response = api.patch(
        "/api/v1/me/", json.dumps({"time_zone": "localtime"}),
        content_type="application/json",
    )  # fmt: skip

    assert_in_shape("native", response, 400)


def test_max_retries_is_capped_at_100_with_a_field_error(api: Client) -> None:
    refused = _create(api, max_retries=10**9)
    accepted = _create(api, max_retries=100)

    assert_in_shape("native", refused, 400)
    assert "100" in refused.json()["errors"]["max_retries"][0]
    assert accepted.status_code == 201, accepted.content


def test_the_service_caps_max_retries_for_every_caller(db: None) -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        schedule_create(
            data={"name": "x", "kind": "interval", "interval_hours": 1,
                  "start_at": NOON, "target": "core.echo", "max_retries": 10**9},
            by=None, now=NOON, allow_past=True,
        )  # fmt: skip
    assert "at most 100" in refused.value.message_dict["max_retries"][0]


@pytest.fixture
def seven_schedules(db: None) -> None:
    for number in range(7):
        schedule_create(
            data={"name": f"job-{number}", "kind": "interval", "interval_hours": 1,
                  "start_at": NOON, "target": "core.echo"},
            by=None, now=NOON, allow_past=True,
        )  # fmt: skip


def test_page_size_is_honoured_as_a_synonym_of_limit(
    api: Client, seven_schedules: None
) -> None:
    body = api.get("/api/v1/schedules/?page_size=3").json()

    assert (body["count"], len(body["results"])) == (7, 3)
    assert "limit=3" in body["next"]


@pytest.mark.parametrize(
    "query", ["limit=501", "page_size=0", "limit=abc", "offset=-1", "page=2"]
)
def test_paging_that_cannot_be_honoured_is_a_400_not_a_silent_default(
    api: Client, seven_schedules: None, query: str
) -> None:
    response = api.get(f"/api/v1/schedules/?{query}")

    assert_in_shape("native", response, 400)
