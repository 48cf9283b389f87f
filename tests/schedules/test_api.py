"""The native schedules API: thin over the services, problem details on errors."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from schedules.models import Schedule
from tests.schedules.factories import definition

pytestmark = pytest.mark.django_db

URL = "/api/v1/schedules/"


@pytest.fixture
def api(superuser: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(superuser)
    return client


@pytest.fixture
def reader(django_user_model: Any) -> APIClient:
    user = django_user_model.objects.create_user(username="rita-reader")
    user.user_permissions.add(Permission.objects.get(codename="view_schedule"))
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_a_schedule_is_created_and_read_back_with_an_etag(api: APIClient) -> None:
    response = api.post(URL, definition(tags={"team": "ops"}), format="json")
    assert response.status_code == 201, response.json()
    assert response["Location"].endswith("/api/v1/schedules/nightly-report/")
    body = response.json()
    assert body["cron_dialect"] == "unix"
    assert body["tags"] == {"team": "ops"}
    assert body["next_run_at"] is not None
    assert "02:30" in body["description_human"]

    read = api.get(f"{URL}nightly-report/")
    assert read.status_code == 200
    assert read["ETag"] == response["ETag"]


def test_a_bad_cron_expression_is_a_field_error_not_a_500(api: APIClient) -> None:
    response = api.post(URL, definition(cron_expression="0 0 30 2 *"), format="json")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    errors = response.json()["errors"]
    assert errors == {"cron_expression": ["this expression never fires (30 February)"]}


def test_an_unknown_zone_and_a_missing_target_are_named(api: APIClient) -> None:
    data = definition(time_zone="Europe/Berln")
    del data["target"]
    response = api.post(URL, data, format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"target"}
    response = api.post(URL, definition(time_zone="Europe/Berln"), format="json")
    assert (
        "unknown time zone 'Europe/Berln'" in response.json()["errors"]["time_zone"][0]
    )


def test_a_taken_name_is_a_conflict(api: APIClient) -> None:
    api.post(URL, definition(), format="json")
    response = api.post(URL, definition(), format="json")
    assert response.status_code == 409
    assert "name" in response.json()["errors"]


def test_a_stale_if_match_is_refused_with_412(api: APIClient) -> None:
    created = api.post(URL, definition(), format="json")
    etag = created["ETag"]
    first = api.patch(
        f"{URL}nightly-report/", {"description": "one"}, format="json",
        HTTP_IF_MATCH=etag,
    )  # fmt: skip
    assert first.status_code == 200
    assert first["ETag"] != etag

    stale = api.patch(
        f"{URL}nightly-report/", {"description": "two"}, format="json",
        HTTP_IF_MATCH=etag,
    )  # fmt: skip
    assert stale.status_code == 412
    assert Schedule.objects.get(name="nightly-report").description == "one"


def test_pause_and_resume_through_the_api(api: APIClient) -> None:
    api.post(URL, definition(), format="json")
    paused = api.post(
        f"{URL}nightly-report/pause/", {"reason": "maintenance"}, format="json"
    )
    assert paused.status_code == 200
    assert paused.json()["is_paused"] is True
    assert paused.json()["paused_reason"] == "maintenance"
    assert paused.json()["next_run_at"] is None

    resumed = api.post(f"{URL}nightly-report/resume/")
    assert resumed.json()["is_paused"] is False
    assert resumed.json()["next_run_at"] is not None


def test_pause_all_and_resume_all_report_counts(api: APIClient) -> None:
    for name in ("a", "b"):
        api.post(URL, definition(name=name), format="json")
    assert api.post(f"{URL}pause-all/", {}, format="json").json() == {"count": 2}
    assert api.post(f"{URL}pause-all/", {}, format="json").json() == {"count": 0}
    assert api.post(f"{URL}resume-all/").json() == {"count": 2}


def test_next_runs_are_given_in_three_zones_with_dst_flags(api: APIClient) -> None:
    api.post(URL, definition(), format="json")
    response = api.get(f"{URL}nightly-report/next-runs/?count=3&tz=America/New_York")
    assert response.status_code == 200
    body = response.json()
    assert body["viewer_zone"] == "America/New_York"
    assert len(body["fires"]) == 3
    fire = body["fires"][0]
    assert set(fire) == {
        "utc",
        "schedule_zone",
        "viewer_zone",
        "schedule_zone_abbreviation",
        "viewer_zone_abbreviation",
        "dst",
    }


def test_preview_of_an_unsaved_definition_flags_the_spring_forward_shift(
    api: APIClient,
) -> None:
    response = api.post(
        f"{URL}preview/",
        {
            "kind": "cron",
            "cron_expression": "30 2 * * *",
            "time_zone": "Europe/Berlin",
            "start_at": "2030-03-30T00:00:00+00:00",
            "count": 2,
            "viewer_zone": "UTC",
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    saturday, sunday = response.json()["fires"]
    assert saturday["utc"] == "2030-03-30T01:30:00+00:00"
    assert saturday["dst"] is None
    # 31 March 2030 is the spring-forward Sunday: 02:30 does not exist.
    assert sunday["utc"] == "2030-03-31T01:00:00+00:00"
    assert sunday["schedule_zone"] == "2030-03-31T03:00:00+02:00"
    assert sunday["dst"] == "shifted"


def test_preview_with_a_bad_count_is_a_field_error(api: APIClient) -> None:
    response = api.post(
        f"{URL}preview/", {"kind": "cron", "cron_expression": "* * * * *",
                           "count": 500}, format="json",
    )  # fmt: skip
    assert response.status_code == 400
    assert "count" in response.json()["errors"]


def test_tags_are_read_replaced_and_removed(api: APIClient) -> None:
    api.post(URL, definition(tags={"a": "1"}), format="json")
    assert api.get(f"{URL}nightly-report/tags/").json() == {"tags": {"a": "1"}}
    replaced = api.put(
        f"{URL}nightly-report/tags/", {"tags": {"b": "2", "c": "3"}}, format="json"
    )
    assert replaced.json() == {"tags": {"b": "2", "c": "3"}}
    assert api.delete(f"{URL}nightly-report/tags/b/").status_code == 204
    assert api.get(f"{URL}nightly-report/tags/").json() == {"tags": {"c": "3"}}


def test_a_nul_character_in_a_tag_is_a_field_error_not_a_500(api: APIClient) -> None:
    """Found by schemathesis: PostgreSQL refuses U+0000 in text."""
    api.post(URL, definition(tags={"a": "1"}), format="json")
    for tags in ({"\x00x": "1"}, {"k": "v\x00"}):
        answer = api.put(f"{URL}nightly-report/tags/", {"tags": tags}, format="json")
        assert answer.status_code == 400
        assert "tags" in answer.json()["errors"]
    assert api.get(f"{URL}nightly-report/tags/").json() == {"tags": {"a": "1"}}


def test_the_list_filters_by_kind_tag_paused_and_text(api: APIClient) -> None:
    api.post(URL, definition(name="cron-one", tags={"team": "ops"}), format="json")
    api.post(URL, definition(name="every-minute", kind="interval",
                             interval_minutes=1, cron_expression=""),
             format="json")  # fmt: skip
    api.post(f"{URL}every-minute/pause/", {}, format="json")

    def names(query: str) -> list[str]:
        return [s["name"] for s in api.get(f"{URL}?{query}").json()["results"]]

    assert names("kind=interval") == ["every-minute"]
    assert names("tag=team:ops") == ["cron-one"]
    assert names("tag=team:dev") == []
    assert names("paused=true") == ["every-minute"]
    assert names("q=minute") == ["every-minute"]
    assert names("ordering=-name") == ["every-minute", "cron-one"]


def test_the_list_costs_the_same_queries_for_many_schedules(
    api: APIClient, django_assert_max_num_queries: Any
) -> None:
    for index in range(20):
        api.post(URL, definition(name=f"s{index}", tags={"i": str(index)}),
                 format="json")  # fmt: skip
    with django_assert_max_num_queries(6):
        response = api.get(URL)
    assert response.json()["count"] == 20


def test_a_reader_may_read_but_not_write(reader: APIClient, api: APIClient) -> None:
    api.post(URL, definition(), format="json")
    assert reader.get(URL).status_code == 200
    assert reader.get(f"{URL}nightly-report/").status_code == 200
    assert reader.post(URL, definition(name="x"), format="json").status_code == 403
    assert reader.post(f"{URL}nightly-report/pause/").status_code == 403
    assert reader.delete(f"{URL}nightly-report/").status_code == 403


def test_anonymous_callers_get_401() -> None:
    assert APIClient().get(URL).status_code == 401


def test_an_unknown_schedule_is_a_404_problem(api: APIClient) -> None:
    response = api.get(f"{URL}nope/")
    assert response.status_code == 404
    assert response.json()["title"] == "Not found"


def test_a_schedule_is_deleted(api: APIClient) -> None:
    api.post(URL, definition(), format="json")
    assert api.delete(f"{URL}nightly-report/").status_code == 204
    assert not Schedule.objects.filter(name="nightly-report").exists()
