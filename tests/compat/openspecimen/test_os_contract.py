"""The OpenSpecimen wire contract over HTTP: sessions, jobs, runs, result files.

Every endpoint of specs/openspecimen.md 3.2, every run-list date form, every
error code we can produce, visibility and paging. Bodies are plain JSON sent
and read the way an OpenSpecimen client does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import pytest
import time_machine
from django.contrib.auth import authenticate
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from compat.openspecimen.mapping import ONDEMAND_RUN_AT
from core.accounts import profile_set_time_zone
from jobruns.models import JobRun
from jobruns.services import jobrun_enqueue, jobrun_execute, jobrun_record_skipped
from schedules.models import Schedule
from schedules.services import schedule_create
from tests.compat.openspecimen.conftest import (
    OsApi,
    basic_headers,
    finished_run,
    job_body,
)
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db
Status = JobRun.Status
T0 = datetime(2022, 2, 21, 12, 0, tzinfo=UTC)


def _codes(answer: Any) -> list[str]:
    return [error["code"] for error in answer.json()]


def _create(api: OsApi, **fields: Any) -> dict[str, Any]:
    answer = api.post("/scheduled-jobs", job_body(**fields))
    assert answer.status_code == 200, answer.content
    return answer.json()


def _schedule(job: dict[str, Any]) -> Schedule:
    return Schedule.objects.get(pk=job["id"])


# --- sessions -----------------------------------------------------------------------
def test_sign_in_returns_a_token_that_x_os_api_token_accepts(
    client: Client, superuser: Any
) -> None:
    answer = client.post(
        "/rest/ng/sessions",
        {"loginName": superuser.username, "password": PASSWORD},
        content_type="application/json",
    )
    token = answer.json()["token"]
    jobs = client.get("/rest/ng/scheduled-jobs", headers={"X-OS-API-TOKEN": token})

    assert answer.status_code == 200
    assert answer.json()["loginName"] == superuser.username
    assert answer.json()["admin"] is True
    assert jobs.status_code == 200
    assert jobs.json() == []
    assert superuser.api_tokens.get().expires_at is not None


@pytest.mark.parametrize(
    "body",
    [
        {"loginName": "alice-admin", "password": "wrong"},
        {"loginName": "nobody", "password": PASSWORD},
        {"loginName": "alice-admin", "password": PASSWORD, "domainName": "ldap"},
    ],
)
def test_sign_in_with_bad_credentials_is_401_with_an_error_array(
    client: Client, superuser: Any, body: dict[str, str]
) -> None:
    answer = client.post("/rest/ng/sessions", body, content_type="application/json")

    assert answer.status_code == 401
    assert _codes(answer) == ["AUTH_INVALID_CREDENTIALS"]


def test_sign_in_without_a_password_is_an_invalid_request(client: Client) -> None:
    answer = client.post(
        "/rest/ng/sessions", {"loginName": "x"}, content_type="application/json"
    )

    assert answer.status_code == 400
    assert _codes(answer) == ["INVALID_REQUEST"]


def test_sign_in_works_while_the_client_still_sends_a_dead_token(
    client: Client, superuser: Any
) -> None:
    answer = client.post(
        "/rest/ng/sessions",
        {"loginName": superuser.username, "password": PASSWORD},
        content_type="application/json",
        headers={"X-OS-API-TOKEN": "sch_dead"},
    )

    assert answer.status_code == 200


def test_sign_out_revokes_the_session_token(admin_api: OsApi, client: Client) -> None:
    bye = admin_api.delete("/sessions")
    after = admin_api.get("/scheduled-jobs")

    assert bye.status_code == 200
    assert bye.json() == {"Status": "Success"}
    assert after.status_code == 401
    assert _codes(after) == ["UNAUTHORIZED"]


def test_a_session_token_stops_working_when_it_expires(
    client: Client, superuser: Any
) -> None:
    with time_machine.travel(T0, tick=False) as clock:
        token = client.post(
            "/rest/ng/sessions",
            {"loginName": superuser.username, "password": PASSWORD},
            content_type="application/json",
        ).json()["token"]
        clock.move_to(T0 + timedelta(hours=7, minutes=59))
        fresh = client.get("/rest/ng/scheduled-jobs", headers={"X-OS-API-TOKEN": token})
        clock.move_to(T0 + timedelta(hours=8, seconds=1))
        stale = client.get("/rest/ng/scheduled-jobs", headers={"X-OS-API-TOKEN": token})

    assert fresh.status_code == 200
    assert stale.status_code == 401


def test_http_basic_also_authenticates(client: Client, superuser: Any) -> None:
    answer = client.get(
        "/rest/ng/scheduled-jobs/count",
        headers=basic_headers(superuser.username, PASSWORD),
    )

    assert answer.status_code == 200
    assert answer.json() == {"count": 0}


@pytest.fixture
def password_checks() -> Iterator[mock.MagicMock]:
    """Counts the full (slow, hashing) password checks HTTP Basic makes."""
    cache.clear()
    with mock.patch(
        "rest_framework.authentication.authenticate", wraps=authenticate
    ) as spy:
        yield spy
    cache.clear()


def _count_as(client: Client, username: str, password: str) -> int:
    return client.get(
        "/rest/ng/scheduled-jobs/count", headers=basic_headers(username, password)
    ).status_code


def test_http_basic_checks_a_password_once_then_remembers_it_without_storing_it(
    client: Client, superuser: Any, password_checks: mock.MagicMock
) -> None:
    assert [_count_as(client, superuser.username, PASSWORD) for _ in range(3)] == [
        200
    ] * 3
    assert password_checks.call_count == 1
    # What is kept: a keyed hash as the key, the user id and a keyed hash of the
    # stored password hash as the value; never the password.
    [key] = [k for k in cache._cache if "os-basic:" in k]  # type: ignore[attr-defined]
    user_pk, password_mac = cache.get(key.split(":", 2)[-1])
    assert user_pk == superuser.pk
    assert PASSWORD not in key
    assert PASSWORD not in password_mac
    assert superuser.password not in password_mac


def test_a_wrong_password_is_never_served_from_the_remembered_check(
    client: Client, superuser: Any, password_checks: mock.MagicMock
) -> None:
    assert _count_as(client, superuser.username, PASSWORD) == 200
    assert _count_as(client, superuser.username, PASSWORD + "x") == 401
    assert _count_as(client, superuser.username, "") == 401
    assert password_checks.call_count == 3  # each wrong one took the full check


def test_a_password_change_or_a_disabled_account_ends_the_remembered_check(
    client: Client, superuser: Any, password_checks: mock.MagicMock
) -> None:
    assert _count_as(client, superuser.username, PASSWORD) == 200
    superuser.set_password("a brand new password")
    superuser.save()

    assert _count_as(client, superuser.username, PASSWORD) == 401
    assert _count_as(client, superuser.username, "a brand new password") == 200
    assert password_checks.call_count == 3
    superuser.is_active = False
    superuser.save()
    assert _count_as(client, superuser.username, "a brand new password") == 401


def test_no_credentials_is_401_with_an_error_array(client: Client) -> None:
    answer = client.get("/rest/ng/scheduled-jobs")

    assert answer.status_code == 401
    assert _codes(answer) == ["UNAUTHORIZED"]
    assert answer["WWW-Authenticate"].startswith("Basic")


def test_signing_in_is_throttled(client: Client, superuser: Any, settings: Any) -> None:
    settings.AUTH_THROTTLE_RATE = "2/min"
    body = {"loginName": superuser.username, "password": "wrong"}

    answers = [
        client.post("/rest/ng/sessions", body, content_type="application/json")
        for _ in range(3)
    ]

    assert [a.status_code for a in answers] == [401, 401, 429]
    assert _codes(answers[2]) == ["TOO_MANY_REQUESTS"]


# --- jobs: create, read, update, delete -------------------------------------------
def test_create_answers_200_with_the_job_read_in_the_creators_zone(
    admin_api: OsApi, superuser: Any
) -> None:
    profile_set_time_zone(user=superuser, time_zone="Europe/Berlin")
    with time_machine.travel(T0, tick=False):
        job = _create(admin_api, name="nightly-report", fixedArgs="--all  now")

    schedule = _schedule(job)
    assert job["name"] == "nightly-report"
    assert job["repeatSchedule"] == "DAILY"
    assert (job["scheduledHour"], job["scheduledMinute"]) == (2, 30)
    assert job["startDate"] == int(T0.timestamp() * 1000)
    # 02:30 in Berlin (UTC+1 in February) is 01:30 UTC, the next morning.
    assert (
        job["nextRunOn"]
        == int(datetime(2022, 2, 22, 1, 30, tzinfo=UTC).timestamp()) * 1000
    )
    assert job["activityStatus"] == "Active"
    assert job["isActiveJob"] is True
    assert job["type"] == "INTERNAL"
    assert job["taskImplFqn"] == "core.echo"
    assert job["fixedArgs"] == "--all  now"
    assert job["createdBy"]["loginName"] == superuser.username
    assert (schedule.kind, schedule.cron_expression) == ("cron", "30 2 * * *")
    assert schedule.time_zone == "Europe/Berlin"
    assert schedule.extra == "--all  now"
    assert schedule.overlap_policy == Schedule.OverlapPolicy.SKIP


@pytest.mark.parametrize(
    "repeat",
    [
        {"repeatSchedule": "MINUTELY", "minutelyInterval": 10},
        {"repeatSchedule": "HOURLY", "scheduledMinute": 15, "hourlyInterval": 3},
        {"repeatSchedule": "DAILY", "scheduledHour": 23, "scheduledMinute": 59},
        {
            "repeatSchedule": "WEEKLY",
            "scheduledDayOfWeek": "MONDAY",
            "scheduledHour": 6,
            "scheduledMinute": 0,
        },
        {
            "repeatSchedule": "MONTHLY",
            "scheduledDayOfMonth": 15,
            "scheduledHour": 6,
            "scheduledMinute": 0,
        },
        {"repeatSchedule": "ONDEMAND"},
    ],
)
def test_every_repeat_schedule_survives_create_and_get(
    admin_api: OsApi, repeat: dict[str, Any]
) -> None:
    start = int(datetime(2030, 1, 1, tzinfo=UTC).timestamp() * 1000)
    body = {
        "name": "Specimen report",
        "type": "INTERNAL",
        "taskImplFqn": "core.echo",
        "startDate": start,
        **repeat,
    }
    created = admin_api.post("/scheduled-jobs", body).json()
    read = admin_api.get(f"/scheduled-jobs/{created['id']}").json()

    for key, value in body.items():
        assert read[key] == value, key
    assert read == created


def test_an_on_demand_job_never_fires_by_itself(admin_api: OsApi) -> None:
    job = _create(admin_api, name="od", repeatSchedule="ONDEMAND", endDate=1)

    schedule = _schedule(job)
    assert job["nextRunOn"] is None
    assert job["scheduledHour"] is None
    assert job["isActiveJob"] is True
    assert job["endDate"] is None  # meaningless for ONDEMAND, not kept
    assert schedule.kind == "one_time"
    assert schedule.run_at == ONDEMAND_RUN_AT
    assert not schedule.is_paused


def test_dates_in_the_body_take_every_accepted_form(
    admin_api: OsApi, superuser: Any
) -> None:
    profile_set_time_zone(user=superuser, time_zone="America/New_York")
    forms = {
        "a": "2031-02-21T07:00:00.000Z",
        "b": "2031-02-21 02:00",
        "c": "20310221T020000",
        "d": int(datetime(2031, 2, 21, 7, tzinfo=UTC).timestamp() * 1000),
    }

    starts = {
        name: _create(admin_api, name=name, startDate=value)["startDate"]
        for name, value in forms.items()
    }

    assert set(starts.values()) == {forms["d"]}


def test_update_replaces_the_definition_and_keeps_a_missing_start_date(
    admin_api: OsApi,
) -> None:
    job = _create(admin_api, startDate="2031-01-01T00:00:00Z")
    body = job_body(
        name="nightly-report",
        repeatSchedule="WEEKLY",
        scheduledDayOfWeek="FRIDAY",
        scheduledHour=18,
        scheduledMinute=0,
        taskImplFqn="reports.runs_csv",
    )

    answer = admin_api.put(f"/scheduled-jobs/{job['id']}", body)

    updated = answer.json()
    assert answer.status_code == 200
    assert updated["repeatSchedule"] == "WEEKLY"
    assert updated["scheduledDayOfWeek"] == "FRIDAY"
    assert updated["taskImplFqn"] == "reports.runs_csv"
    assert updated["startDate"] == job["startDate"]
    assert _schedule(job).cron_expression == "0 18 * * 5"


def test_update_keeps_what_openspecimen_does_not_know(admin_api: OsApi) -> None:
    job = _create(admin_api)
    Schedule.objects.filter(pk=job["id"]).update(max_retries=3, input={"x": 1})
    _schedule(job).tags.create(key="team", value="lab")

    admin_api.put(f"/scheduled-jobs/{job['id']}", {**job, "fixedArgs": "new"})

    schedule = _schedule(job)
    assert schedule.extra == "new"
    assert schedule.max_retries == 3
    assert schedule.input == {"x": 1}
    assert schedule.tags.get(key="team").value == "lab"


def test_echoing_a_job_back_keeps_it_unchanged(admin_api: OsApi) -> None:
    job = _create(
        admin_api,
        name="Weekly QC export",
        rtArgsProvided=True,
        rtArgsHelpText="cp short title",
        fixedArgs="a b",
    )

    again = admin_api.put(f"/scheduled-jobs/{job['id']}", job).json()

    assert {k: v for k, v in again.items() if k != "nextRunOn"} == {
        k: v for k, v in job.items() if k != "nextRunOn"
    }


def test_disabled_pauses_the_job_and_active_resumes_it(admin_api: OsApi) -> None:
    job = _create(admin_api)

    disabled = admin_api.put(
        f"/scheduled-jobs/{job['id']}", {**job, "activityStatus": "Disabled"}
    ).json()
    paused = _schedule(job).is_paused
    active = admin_api.put(
        f"/scheduled-jobs/{job['id']}", {**job, "activityStatus": "Active"}
    ).json()

    assert paused is True
    assert disabled["activityStatus"] == "Disabled"
    assert disabled["isActiveJob"] is False
    assert disabled["nextRunOn"] is None
    assert active["activityStatus"] == "Active"
    assert not _schedule(job).is_paused


def test_a_past_end_date_is_accepted_and_makes_the_job_inactive(
    admin_api: OsApi,
) -> None:
    job = _create(
        admin_api, startDate="2020-01-01T00:00:00Z", endDate="2020-02-01T00:00:00Z"
    )

    assert job["isActiveJob"] is False
    assert job["nextRunOn"] is None


def test_delete_answers_the_job_disabled_and_keeps_its_runs(
    admin_api: OsApi, superuser: Any
) -> None:
    job = _create(admin_api, repeatSchedule="ONDEMAND")
    run = finished_run(_schedule(job), started=T0, finished=T0, by=superuser)

    answer = admin_api.delete(f"/scheduled-jobs/{job['id']}")
    again = admin_api.get(f"/scheduled-jobs/{job['id']}")

    assert answer.status_code == 200
    assert answer.json()["activityStatus"] == "Disabled"
    assert answer.json()["id"] == job["id"]
    assert _codes(again) == ["SCHEDULED_JOB_NOT_FOUND"]
    run.refresh_from_db()
    assert run.schedule_id is None
    assert run.schedule_name == "nightly-report"


def test_a_job_made_here_is_the_same_schedule_in_the_native_api(
    admin_api: OsApi, client: Client, superuser: Any
) -> None:
    job = _create(admin_api, name="Freezer audit")
    client.force_login(superuser)

    native = client.get("/api/v1/schedules/Freezer-audit/")

    assert native.status_code == 200
    assert native.json()["id"] == job["id"]
    assert native.json()["target"] == "core.echo"


def test_an_on_demand_job_shows_in_the_admin_without_a_next_run(
    admin_api: OsApi, client: Client, superuser: Any
) -> None:
    job = _create(admin_api, name="On demand export", repeatSchedule="ONDEMAND")
    client.force_login(superuser)

    page = client.get(f"/admin/schedules/schedule/{job['id']}/change/")
    listing = client.get("/admin/schedules/schedule/")

    assert page.status_code == 200
    assert listing.status_code == 200
    assert b"On-demand-export" in listing.content


def test_a_schedule_made_elsewhere_reads_as_a_job(admin_api: OsApi) -> None:
    schedule = schedule_create(
        data={
            "name": "every-90s",
            "kind": "interval",
            "interval_seconds": 90,
            "target": "core.echo",
        },
        by=None,
        now=timezone.now(),
    )

    job = admin_api.get(f"/scheduled-jobs/{schedule.pk}").json()

    assert job["name"] == "every-90s"
    assert job["repeatSchedule"] is None  # OpenSpecimen cannot say "90 seconds"
    assert job["nextRunOn"] is not None
    assert job["createdBy"] is None


# --- jobs: list and count -----------------------------------------------------------
def test_list_is_newest_first_with_query_type_and_paging(admin_api: OsApi) -> None:
    ids = [
        _create(admin_api, name=name)["id"]
        for name in ("Alpha report", "beta-report", "gamma", "Delta REPORT")
    ]

    everything = [job["id"] for job in admin_api.get("/scheduled-jobs").json()]
    reports = [
        job["name"] for job in admin_api.get("/scheduled-jobs", query="report").json()
    ]
    page = admin_api.get("/scheduled-jobs", startAt=1, maxResults=2).json()
    internal = admin_api.get("/scheduled-jobs", type="INTERNAL").json()
    external = admin_api.get("/scheduled-jobs", type="EXTERNAL").json()

    assert everything == ids[::-1]
    assert reports == ["Delta REPORT", "beta-report", "Alpha report"]
    assert [job["id"] for job in page] == [ids[2], ids[1]]
    assert len(internal) == 4
    assert external == []


def test_count_honours_query_and_type(admin_api: OsApi) -> None:
    for name in ("Alpha report", "beta-report", "gamma"):
        _create(admin_api, name=name)

    assert admin_api.get("/scheduled-jobs/count").json() == {"count": 3}
    assert admin_api.get("/scheduled-jobs/count", query="REPORT").json() == {"count": 2}
    assert admin_api.get("/scheduled-jobs/count", type="QUERY").json() == {"count": 0}


def test_listing_jobs_costs_the_same_queries_for_one_job_or_many(
    admin_api: OsApi, editor: Any, viewer: Any
) -> None:
    _create(admin_api, name="first", recipients=[{"id": editor.pk}])
    admin_api.get("/scheduled-jobs")  # warm up: profile, token last use
    with CaptureQueriesContext(connection) as one:
        admin_api.get("/scheduled-jobs")
    for index in range(5):
        _create(admin_api, name=f"more-{index}", recipients=[{"id": viewer.pk}])
    with CaptureQueriesContext(connection) as six:
        listed = admin_api.get("/scheduled-jobs").json()

    assert len(listed) == 6
    assert len(six) == len(one)
    assert listed[-1]["recipients"][0]["loginName"] == editor.username


# --- jobs: errors -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"name": ""}, "SCHEDULED_JOB_NAME_REQUIRED"),
        ({"name": None}, "SCHEDULED_JOB_NAME_REQUIRED"),
        ({"repeatSchedule": None}, "SCHEDULED_JOB_REPEAT_SCHEDULE_REQUIRED"),
        ({"repeatSchedule": "YEARLY"}, "SCHEDULED_JOB_INVALID_REPEAT_SCHEDULE"),
        ({"scheduledHour": 25}, "SCHEDULED_JOB_INVALID_SCHEDULED_TIME"),
        ({"scheduledMinute": None}, "SCHEDULED_JOB_INVALID_SCHEDULED_TIME"),
        (
            {"startDate": "2031-02-01T00:00:00Z", "endDate": "2031-01-01T00:00:00Z"},
            "SCHEDULED_JOB_END_DATE_BEFORE_START_DATE",
        ),
        ({"type": None}, "SCHEDULED_JOB_INVALID_TYPE"),
        ({"type": "QUERY", "savedQuery": {"id": 4}}, "SCHEDULED_JOB_INVALID_TYPE"),
        ({"type": "QUERY"}, "SCHEDULED_JOB_QUERY_REQ"),
        (
            {"type": "EXTERNAL", "command": "rm -rf /"},
            "SCHEDULED_JOB_EXT_TASK_FORBIDDEN",
        ),
        ({"taskImplFqn": ""}, "SCHEDULED_JOB_TASK_IMPL_FQN_REQUIRED"),
        (
            {"taskImplFqn": "com.krishagni.NoSuchTask"},
            "SCHEDULED_JOB_INVALID_TASK_IMPL_FQN",
        ),
        ({"recipients": [{"id": 987654}]}, "SCHEDULED_JOB_INVALID_RECIPIENT"),
        ({"recipients": [{"loginName": "x"}]}, "SCHEDULED_JOB_INVALID_RECIPIENT"),
        ({"type": "SCRIPT"}, "INVALID_REQUEST"),
        ({"startDate": "next tuesday"}, "INVALID_REQUEST"),
        ({"scheduledHour": "two"}, "INVALID_REQUEST"),
        ({"activityStatus": "Closed"}, "INVALID_REQUEST"),
    ],
)
def test_a_bad_job_is_400_with_open_specimens_code(
    admin_api: OsApi, change: dict[str, Any], code: str
) -> None:
    answer = admin_api.post("/scheduled-jobs", job_body(**change))

    assert answer.status_code == 400
    assert _codes(answer) == [code]
    assert answer.json()[0]["message"]
    assert not Schedule.objects.exists()


def test_a_duplicate_name_is_refused(admin_api: OsApi) -> None:
    _create(admin_api, name="Nightly report")
    other = _create(admin_api, name="other")

    created = admin_api.post("/scheduled-jobs", job_body(name="Nightly report"))
    renamed = admin_api.put(
        f"/scheduled-jobs/{other['id']}", job_body(name="Nightly report")
    )

    assert _codes(created) == ["SCHEDULED_JOB_DUP_JOB_NAME"]
    assert _codes(renamed) == ["SCHEDULED_JOB_DUP_JOB_NAME"]
    assert renamed.status_code == 400


@pytest.mark.parametrize(
    "raw", ["{not json", "[1, 2]", '"a string"'], ids=["broken", "list", "string"]
)
def test_a_body_that_is_not_a_job_is_an_invalid_request(
    admin_api: OsApi, raw: str
) -> None:
    answer = admin_api.post("/scheduled-jobs", raw=raw)

    assert answer.status_code == 400
    assert _codes(answer) == ["INVALID_REQUEST"]


@pytest.mark.parametrize(
    "change",
    [
        {"startDate": "0001-01-01T00:00:00Z"},
        {"startDate": -62135596800000},
        {"endDate": "9999-12-31T23:59:00Z"},
        {"startDate": 10**20},
        {"recipients": [{"id": 10**30}]},
        {"recipients": "everyone"},
        {"scheduledHour": 10**30},
        {"repeatSchedule": ["DAILY"]},
        {"taskImplFqn": {"class": "x"}},
        {"name": "x" * 201},
    ],
)
def test_out_of_range_input_is_a_400_never_a_500(
    admin_api: OsApi, change: dict[str, Any]
) -> None:
    answer = admin_api.post("/scheduled-jobs", job_body(**change))

    assert answer.status_code == 400
    assert len(answer.json()) == 1


@pytest.mark.parametrize(
    "path",
    [
        "/scheduled-jobs/99999999999999999999999",
        "/scheduled-jobs?startAt=99999999999999999999999",
        "/scheduled-jobs?maxResults=2147483648",
        "/scheduled-jobs/1/runs/99999999999999999999999",
    ],
)
def test_out_of_range_numbers_in_the_url_are_invalid_requests(
    admin_api: OsApi, path: str
) -> None:
    answer = admin_api.client.get("/rest/ng" + path, headers=admin_api.headers)

    assert answer.status_code == 400
    assert _codes(answer) == ["INVALID_REQUEST"]


def test_an_unknown_job_is_400_not_found_and_a_bad_id_an_invalid_request(
    admin_api: OsApi,
) -> None:
    missing = [
        admin_api.get("/scheduled-jobs/424242"),
        admin_api.put("/scheduled-jobs/424242", job_body()),
        admin_api.delete("/scheduled-jobs/424242"),
        admin_api.get("/scheduled-jobs/424242/runs"),
        admin_api.post("/scheduled-jobs/424242/runs", {"args": ""}),
    ]
    bad = admin_api.get("/scheduled-jobs/abc")

    assert {a.status_code for a in missing} == {400}
    assert {tuple(_codes(a)) for a in missing} == {("SCHEDULED_JOB_NOT_FOUND",)}
    assert bad.status_code == 400
    assert _codes(bad) == ["INVALID_REQUEST"]


@pytest.mark.parametrize(
    ("param", "value"),
    [("maxResults", "-1"), ("startAt", "x"), ("type", "SCRIPT")],
)
def test_a_bad_list_parameter_is_an_invalid_request(
    admin_api: OsApi, param: str, value: str
) -> None:
    answer = admin_api.get("/scheduled-jobs", **{param: value})

    assert answer.status_code == 400
    assert _codes(answer) == ["INVALID_REQUEST"]


def test_an_unsupported_method_and_an_unknown_endpoint_answer_problem_details(
    admin_api: OsApi,
) -> None:
    method = admin_api.patch("/scheduled-jobs")
    endpoint = admin_api.get("/scheduled-jobs/1/logs")

    assert method.status_code == 405
    assert method.json()["detail"] == (
        "The PATCH method is not supported for this endpoint."
    )
    assert endpoint.status_code == 404
    assert endpoint.json()["detail"] == "The requested endpoint was not found."


# --- permissions --------------------------------------------------------------------
def test_roles_decide_who_reads_writes_and_runs(
    api_as: Callable[[Any], OsApi],
    admin_api: OsApi,
    viewer: Any,
    operator: Any,
    editor: Any,
    outsider: Any,
) -> None:
    job = _create(admin_api, repeatSchedule="ONDEMAND")
    path = f"/scheduled-jobs/{job['id']}"

    assert api_as(outsider).get("/scheduled-jobs").status_code == 400
    assert api_as(viewer).get(path).status_code == 200
    assert _codes(api_as(viewer).post("/scheduled-jobs", job_body("x"))) == [
        "SCHEDULED_JOB_OP_NOT_ALLOWED"
    ]
    assert _codes(api_as(viewer).post(f"{path}/runs", {})) == [
        "SCHEDULED_JOB_OP_NOT_ALLOWED"
    ]
    assert _codes(api_as(operator).put(path, job)) == ["SCHEDULED_JOB_OP_NOT_ALLOWED"]
    assert api_as(operator).post(f"{path}/runs", {}).status_code == 200
    assert api_as(editor).put(path, job).status_code == 200
    assert _codes(api_as(operator).delete(path)) == ["SCHEDULED_JOB_OP_NOT_ALLOWED"]
    assert api_as(editor).delete(path).status_code == 200


# --- runs: request ------------------------------------------------------------------
def test_a_run_request_queues_a_run_with_the_args_and_answers_the_job(
    admin_api: OsApi, superuser: Any
) -> None:
    job = _create(admin_api, repeatSchedule="ONDEMAND", fixedArgs="--fixed")

    answer = admin_api.post(f"/scheduled-jobs/{job['id']}/runs", {"args": "a  b c"})

    run = JobRun.objects.get()
    assert answer.status_code == 200
    assert answer.json()["id"] == job["id"]
    assert answer.json()["repeatSchedule"] == "ONDEMAND"
    assert run.status == Status.QUEUED
    assert run.args == ["a", "b", "c"]
    assert run.extra == "--fixed"
    assert run.trigger == JobRun.Trigger.API
    assert run.triggered_by == superuser


def test_a_run_request_with_empty_or_no_args_runs_without_args(
    admin_api: OsApi,
) -> None:
    job = _create(admin_api, repeatSchedule="ONDEMAND")

    answer = admin_api.post(f"/scheduled-jobs/{job['id']}/runs", {"args": ""})

    assert answer.status_code == 200
    assert JobRun.objects.get().args == []


def test_a_run_request_while_one_is_in_progress_is_a_clear_400(
    admin_api: OsApi,
) -> None:
    job = _create(admin_api, repeatSchedule="ONDEMAND")
    first = admin_api.post(f"/scheduled-jobs/{job['id']}/runs", {"args": "1"})

    second = admin_api.post(f"/scheduled-jobs/{job['id']}/runs", {"args": "2"})

    assert first.status_code == 200
    assert second.status_code == 400
    assert _codes(second) == ["SCHEDULED_JOB_RUN_IN_PROGRESS"]
    assert "in progress" in second.json()[0]["message"]
    assert JobRun.objects.count() == 1


def test_a_run_request_with_non_text_args_is_an_invalid_request(
    admin_api: OsApi,
) -> None:
    job = _create(admin_api, repeatSchedule="ONDEMAND")

    answer = admin_api.post(f"/scheduled-jobs/{job['id']}/runs", {"args": ["a"]})

    assert _codes(answer) == ["INVALID_REQUEST"]
    assert not JobRun.objects.exists()


def test_a_disabled_job_still_runs_on_request(admin_api: OsApi) -> None:
    job = _create(admin_api, activityStatus="Disabled")

    answer = admin_api.post(f"/scheduled-jobs/{job['id']}/runs", {})

    assert answer.status_code == 200
    assert JobRun.objects.get().status == Status.QUEUED


# --- runs: list ---------------------------------------------------------------------
@pytest.fixture
def history(admin_api: OsApi, superuser: Any) -> tuple[Schedule, list[JobRun]]:
    """Three ended runs on 2022-02-21 (UTC) and one still running."""
    job = _schedule(_create(admin_api, repeatSchedule="ONDEMAND"))
    at = [T0.replace(hour=hour) for hour in (4, 6, 8, 10)]
    runs = [
        finished_run(
            job, started=at[0], finished=at[0] + timedelta(minutes=5), by=superuser
        ),
        finished_run(
            job,
            started=at[1],
            finished=at[1] + timedelta(minutes=5),
            status=Status.FAILED,
            error="RuntimeError: boom",
            by=superuser,
            args=("x", "y"),
        ),
        finished_run(
            job,
            started=at[2],
            finished=at[2] + timedelta(minutes=5),
            status=Status.TIMED_OUT,
            error="time limit of 60 s exceeded",
            by=superuser,
        ),
        finished_run(job, started=at[3], finished=None, by=superuser),
    ]
    return job, runs


def test_runs_are_listed_newest_first_with_open_specimens_fields(
    admin_api: OsApi, history: tuple[Schedule, list[JobRun]], superuser: Any
) -> None:
    job, runs = history

    listed = admin_api.get(f"/scheduled-jobs/{job.pk}/runs").json()

    assert [run["id"] for run in listed] == [run.pk for run in runs[::-1]]
    assert [run["status"] for run in listed] == [
        "IN_PROGRESS",
        "FAILED",
        "FAILED",
        "SUCCEEDED",
    ]
    failed = listed[2]
    assert failed == {
        "id": runs[1].pk,
        "jobId": job.pk,
        "jobName": job.name,
        "startedAt": int(T0.replace(hour=6).timestamp() * 1000),
        "finishedAt": int(T0.replace(hour=6, minute=5).timestamp() * 1000),
        "status": "FAILED",
        "logFilePath": None,
        "message": "RuntimeError: boom",
        "runBy": {
            "id": superuser.pk,
            "loginName": superuser.username,
            "domain": "openspecimen",
            "emailAddress": superuser.email,
            "admin": True,
        },
        "rtArgs": "x y",
    }
    assert listed[0]["finishedAt"] is None
    assert listed[3]["message"] is None


def test_a_queued_run_is_listed_in_progress_from_the_moment_it_is_queued(
    admin_api: OsApi,
) -> None:
    job = _create(admin_api, repeatSchedule="ONDEMAND")
    with time_machine.travel(T0, tick=False):
        admin_api.post(f"/scheduled-jobs/{job['id']}/runs", {"args": "now"})

    listed = admin_api.get(f"/scheduled-jobs/{job['id']}/runs").json()

    assert [(r["status"], r["startedAt"], r["rtArgs"]) for r in listed] == [
        ("IN_PROGRESS", int(T0.timestamp() * 1000), "now")
    ]


@pytest.mark.parametrize(
    "from_date",
    [
        "20220221T050000",  # yyyyMMdd'T'HHmmss in New York = 10:00 UTC
        "2022-02-21 05:00",  # yyyy-MM-dd HH:mm in New York = 10:00 UTC
        "2022-02-21T10:00:00.000Z",  # ISO 8601 with its own offset
        "2022-02-21T11:00:00.000+01:00",
    ],
)
def test_from_date_takes_every_form_with_zone_less_ones_in_the_users_zone(
    admin_api: OsApi,
    history: tuple[Schedule, list[JobRun]],
    superuser: Any,
    from_date: str,
) -> None:
    profile_set_time_zone(user=superuser, time_zone="America/New_York")
    job, runs = history

    listed = admin_api.get(f"/scheduled-jobs/{job.pk}/runs", fromDate=from_date)

    assert listed.status_code == 200
    assert [run["id"] for run in listed.json()] == [runs[3].pk]


def test_from_date_as_a_day_starts_at_midnight_in_the_users_zone(
    admin_api: OsApi, history: tuple[Schedule, list[JobRun]], superuser: Any
) -> None:
    job, runs = history
    profile_set_time_zone(user=superuser, time_zone="America/New_York")
    new_york = admin_api.get(f"/scheduled-jobs/{job.pk}/runs", fromDate="20220221")
    profile_set_time_zone(user=superuser, time_zone="Asia/Tokyo")
    tokyo = admin_api.get(f"/scheduled-jobs/{job.pk}/runs", fromDate="20220221")

    # Midnight in New York is 05:00 UTC: the 04:00 run is the day before.
    assert [run["id"] for run in new_york.json()] == [r.pk for r in runs[:0:-1]]
    assert len(tokyo.json()) == 4


@pytest.mark.parametrize(
    "to_date",
    # 00:10 in New York is 05:10 UTC: only the run that ended at 04:05 UTC.
    ["20220221T001000", "2022-02-21 00:10", "2022-02-21T05:10:00.000Z", "20220221"],
)
def test_to_date_bounds_the_finish_and_drops_runs_in_progress(
    admin_api: OsApi,
    history: tuple[Schedule, list[JobRun]],
    superuser: Any,
    to_date: str,
) -> None:
    profile_set_time_zone(user=superuser, time_zone="America/New_York")
    job, runs = history

    listed = admin_api.get(f"/scheduled-jobs/{job.pk}/runs", toDate=to_date).json()

    assert [run["id"] for run in listed] == [runs[0].pk]


def test_both_dates_together_select_a_window(
    admin_api: OsApi, history: tuple[Schedule, list[JobRun]]
) -> None:
    job, runs = history

    listed = admin_api.get(
        f"/scheduled-jobs/{job.pk}/runs",
        fromDate="2022-02-21T05:00:00Z",
        toDate="2022-02-21T09:00:00Z",
    ).json()

    assert [run["id"] for run in listed] == [runs[2].pk, runs[1].pk]


@pytest.mark.parametrize(
    ("status", "indexes"),
    [("IN_PROGRESS", [3]), ("SUCCEEDED", [0]), ("FAILED", [2, 1])],
)
def test_status_filters_on_open_specimens_three_states(
    admin_api: OsApi,
    history: tuple[Schedule, list[JobRun]],
    status: str,
    indexes: list[int],
) -> None:
    job, runs = history

    listed = admin_api.get(f"/scheduled-jobs/{job.pk}/runs", status=status).json()

    assert [run["id"] for run in listed] == [runs[i].pk for i in indexes]


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("status", "RUNNING"),
        ("fromDate", "21/02/2022"),
        ("toDate", "soon"),
        ("maxResults", "ten"),
        ("startAt", "-3"),
    ],
)
def test_a_bad_run_list_parameter_is_an_invalid_request(
    admin_api: OsApi,
    history: tuple[Schedule, list[JobRun]],
    param: str,
    value: str,
) -> None:
    job, _ = history

    answer = admin_api.get(f"/scheduled-jobs/{job.pk}/runs", **{param: value})

    assert answer.status_code == 400
    assert _codes(answer) == ["INVALID_REQUEST"]


def test_max_results_and_start_at_page_through_runs(
    admin_api: OsApi, history: tuple[Schedule, list[JobRun]]
) -> None:
    job, runs = history
    path = f"/scheduled-jobs/{job.pk}/runs"

    first = admin_api.get(path, maxResults=2).json()
    second = admin_api.get(path, maxResults=2, startAt=2).json()
    beyond = admin_api.get(path, startAt=10).json()

    assert [r["id"] for r in first] == [runs[3].pk, runs[2].pk]
    assert [r["id"] for r in second] == [runs[1].pk, runs[0].pk]
    assert beyond == []


def test_skipped_and_cancelled_runs_list_as_open_specimen_would(
    admin_api: OsApi, history: tuple[Schedule, list[JobRun]], superuser: Any
) -> None:
    job, runs = history
    jobrun_record_skipped(
        schedule=job,
        scheduled_for=T0,
        reason=JobRun.SkipReason.OVERLAP,
        count=1,
        note="",
        now=T0,
    )
    JobRun.objects.filter(pk=runs[3].pk).update(
        status=Status.CANCELLED, finished_at=T0, error="cancelled by bob"
    )

    listed = admin_api.get(f"/scheduled-jobs/{job.pk}/runs").json()

    assert len(listed) == 4  # the skipped fire is not a run in OpenSpecimen
    assert (listed[0]["status"], listed[0]["message"]) == (
        "FAILED",
        "cancelled by bob",
    )


def test_a_non_admin_sees_only_the_runs_they_started(
    api_as: Callable[[Any], OsApi],
    admin_api: OsApi,
    history: tuple[Schedule, list[JobRun]],
    operator: Any,
) -> None:
    job, runs = history
    JobRun.objects.filter(pk=runs[3].pk).update(status=Status.SUCCEEDED)
    mine = finished_run(job, started=T0, finished=T0, by=operator)
    scheduled = finished_run(job, started=T0, finished=T0, by=None)
    as_operator = api_as(operator)

    listed = as_operator.get(f"/scheduled-jobs/{job.pk}/runs").json()
    own = as_operator.get(f"/scheduled-jobs/{job.pk}/runs/{mine.pk}")
    other = as_operator.get(f"/scheduled-jobs/{job.pk}/runs/{runs[0].pk}")
    everything = admin_api.get(f"/scheduled-jobs/{job.pk}/runs").json()

    assert [run["id"] for run in listed] == [mine.pk]
    assert own.status_code == 200
    assert own.json()["runBy"]["loginName"] == operator.username
    assert other.status_code == 400
    assert _codes(other) == ["SCHEDULED_JOB_OP_NOT_ALLOWED"]
    assert {run["id"] for run in everything} >= {mine.pk, scheduled.pk}
    assert next(r for r in everything if r["id"] == scheduled.pk)["runBy"] is None


def test_listing_runs_costs_the_same_queries_for_one_run_or_many(
    admin_api: OsApi, superuser: Any
) -> None:
    job = _schedule(_create(admin_api, repeatSchedule="ONDEMAND"))
    finished_run(job, started=T0, finished=T0, by=superuser)
    path = f"/scheduled-jobs/{job.pk}/runs"
    admin_api.get(path)
    with CaptureQueriesContext(connection) as one:
        admin_api.get(path)
    for _ in range(5):
        finished_run(job, started=T0, finished=T0, by=superuser)
    with CaptureQueriesContext(connection) as six:
        assert len(admin_api.get(path).json()) == 6

    assert len(six) == len(one)


# --- runs: one run and its result file ----------------------------------------------
def test_one_run_reads_by_id_within_its_job(
    admin_api: OsApi, history: tuple[Schedule, list[JobRun]]
) -> None:
    job, runs = history
    other_job = _create(admin_api, name="other")

    found = admin_api.get(f"/scheduled-jobs/{job.pk}/runs/{runs[1].pk}")
    elsewhere = admin_api.get(f"/scheduled-jobs/{other_job['id']}/runs/{runs[1].pk}")
    missing = admin_api.get(f"/scheduled-jobs/{job.pk}/runs/999999")
    bad = admin_api.get(f"/scheduled-jobs/{job.pk}/runs/x1")

    assert found.status_code == 200
    assert found.json()["rtArgs"] == "x y"
    assert _codes(elsewhere) == ["SCHEDULED_JOB_JOB_RUN_NOT_FOUND"]
    assert missing.status_code == 400
    assert _codes(missing) == ["SCHEDULED_JOB_JOB_RUN_NOT_FOUND"]
    assert _codes(bad) == ["INVALID_REQUEST"]


@pytest.fixture
def report_run(admin_api: OsApi, superuser: Any) -> tuple[dict[str, Any], JobRun]:
    """A runs_csv job run through its own endpoint, executed in this process."""
    job = _create(
        admin_api, name="runs export", taskImplFqn="reports.runs_csv", recipients=[]
    )
    admin_api.post(f"/scheduled-jobs/{job['id']}/runs", {"args": "--csv"})
    run = JobRun.objects.get()
    assert jobrun_execute(run_id=run.pk, worker="test") == Status.SUCCEEDED
    run.refresh_from_db()
    return job, run


def test_the_result_file_downloads_as_an_attachment(
    admin_api: OsApi, report_run: tuple[dict[str, Any], JobRun]
) -> None:
    job, run = report_run

    detail = admin_api.get(f"/scheduled-jobs/{job['id']}/runs/{run.pk}").json()
    answer = admin_api.get(f"/scheduled-jobs/{job['id']}/runs/{run.pk}/result-file")

    assert detail["status"] == "SUCCEEDED"
    assert detail["logFilePath"] == run.result_file.name
    assert answer.status_code == 200
    assert answer["Content-Disposition"] == 'attachment; filename="runs.csv"'
    assert answer["Content-Type"].startswith("text/csv")
    assert b"".join(answer.streaming_content).startswith(b"id,schedule,service")


def test_result_files_go_to_admins_the_runner_and_recipients_only(
    api_as: Callable[[Any], OsApi],
    admin_api: OsApi,
    report_run: tuple[dict[str, Any], JobRun],
    operator: Any,
    viewer: Any,
) -> None:
    job, run = report_run
    path = f"/scheduled-jobs/{job['id']}/runs/{run.pk}/result-file"

    refused = api_as(viewer).get(path)
    admin_api.put(
        f"/scheduled-jobs/{job['id']}", {**job, "recipients": [{"id": viewer.pk}]}
    )
    as_recipient = api_as(viewer).get(path)

    assert refused.status_code == 400
    assert _codes(refused) == ["SCHEDULED_JOB_OP_NOT_ALLOWED"]
    assert as_recipient.status_code == 200


def test_a_run_without_a_result_file_or_with_a_lost_one_is_a_400(
    admin_api: OsApi,
    report_run: tuple[dict[str, Any], JobRun],
    history: tuple[Schedule, list[JobRun]],
) -> None:
    job, run = report_run
    echo_job, echo_runs = history
    default_storage.delete(run.result_file.name)

    none = admin_api.get(
        f"/scheduled-jobs/{echo_job.pk}/runs/{echo_runs[0].pk}/result-file"
    )
    lost = admin_api.get(f"/scheduled-jobs/{job['id']}/runs/{run.pk}/result-file")
    unknown = admin_api.get(f"/scheduled-jobs/{job['id']}/runs/999999/result-file")

    assert _codes(none) == ["SCHEDULED_JOB_RESULT_DATA_FILE_NOT_AVAILABLE"]
    assert _codes(lost) == ["SCHEDULED_JOB_RESULT_DATA_FILE_NOT_FOUND"]
    assert _codes(unknown) == ["SCHEDULED_JOB_JOB_RUN_NOT_FOUND"]
    assert {none.status_code, lost.status_code, unknown.status_code} == {400}


def test_messages_are_html_escaped_as_open_specimen_does(admin_api: OsApi) -> None:
    answer = admin_api.post(
        "/scheduled-jobs", job_body(taskImplFqn="<script>alert(1)</script>")
    )

    assert "<script>" not in answer.json()[0]["message"]
    assert "&lt;script&gt;" in answer.json()[0]["message"]


# --- our OpenAPI schema -------------------------------------------------------------
def test_the_wire_endpoints_stay_out_of_our_openapi_schema(
    client: Client, superuser: Any
) -> None:
    client.force_login(superuser)

    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")

    assert schema.status_code == 200
    assert not [
        path for path in json.loads(schema.content)["paths"] if "rest/ng" in path
    ]


def test_runs_of_a_job_enqueue_through_the_shared_service(
    admin_api: OsApi, superuser: Any
) -> None:
    """The native service sees the run exactly as any other run request."""
    job = _schedule(_create(admin_api, repeatSchedule="ONDEMAND"))

    run = jobrun_enqueue(
        schedule=job, trigger=JobRun.Trigger.MANUAL, by=superuser, now=T0
    )
    listed = admin_api.get(f"/scheduled-jobs/{job.pk}/runs").json()

    assert [r["id"] for r in listed] == [run.pk]
