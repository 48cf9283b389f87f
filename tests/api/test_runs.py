"""The runs API: filters, detail, cancel, retry, log, result file; run now; services."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from rest_framework.test import APIClient

from jobruns.models import JobRun
from tests.api.conftest import NOON

pytestmark = pytest.mark.django_db

Status = JobRun.Status
RUNS = "/api/v1/runs/"


def _ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.content
    return [run["id"] for run in response.json()["results"]]


def test_a_viewer_lists_every_run_newest_first(
    client_for: Callable[..., APIClient], viewer: Any, make_schedule: Any, make_run: Any
) -> None:
    schedule = make_schedule()
    older = make_run(schedule, at=NOON)
    newer = make_run(schedule, at=NOON + timedelta(hours=1))
    adhoc = make_run(at=NOON + timedelta(hours=2))

    assert _ids(client_for(viewer).get(RUNS)) == [adhoc.pk, newer.pk, older.pk]


def test_runs_filter_by_schedule_status_trigger_and_text(
    client_for: Callable[..., APIClient], viewer: Any, make_schedule: Any, make_run: Any
) -> None:
    api = client_for(viewer)
    nightly, hourly = make_schedule(name="nightly"), make_schedule(name="hourly")
    failed = make_run(nightly, status=Status.FAILED, error="disk full")
    ok = make_run(nightly, status=Status.SUCCEEDED, at=NOON + timedelta(hours=1))
    queued = make_run(hourly, at=NOON + timedelta(hours=2))

    assert _ids(api.get(RUNS, {"schedule": "nightly"})) == [ok.pk, failed.pk]
    assert _ids(api.get(RUNS, {"status": "failed"})) == [failed.pk]
    both = api.get(RUNS + "?status=failed&status=queued")
    assert _ids(both) == [queued.pk, failed.pk]
    assert _ids(api.get(RUNS, {"trigger": "api"})) == []
    assert _ids(api.get(RUNS, {"q": "disk"})) == [failed.pk]
    assert api.get(RUNS, {"status": "exploded"}).status_code == 400


def test_runs_filter_by_queued_started_and_finished_windows(
    client_for: Callable[..., APIClient], viewer: Any, make_schedule: Any, make_run: Any
) -> None:
    api = client_for(viewer)
    schedule = make_schedule()
    first = make_run(schedule, status=Status.SUCCEEDED, at=NOON)
    second = make_run(schedule, status=Status.SUCCEEDED, at=NOON + timedelta(days=1))
    middle = (NOON + timedelta(hours=12)).isoformat()

    assert _ids(api.get(RUNS, {"queued_from": middle})) == [second.pk]
    assert _ids(api.get(RUNS, {"queued_to": middle})) == [first.pk]
    assert _ids(api.get(RUNS, {"started_from": middle})) == [second.pk]
    assert _ids(api.get(RUNS, {"finished_to": middle})) == [first.pk]
    bad = api.get(RUNS, {"finished_from": "yesterday"})
    assert bad.status_code == 400
    assert "finished_from" in bad.json()["errors"]


def test_ordering_by_a_time_breaks_ties_by_id_in_the_same_direction(
    client_for: Callable[..., APIClient], viewer: Any, make_run: Any
) -> None:
    api = client_for(viewer)
    # Started in the same instant: only the tiebreak decides, and offset pages
    # must neither repeat nor skip one of them.
    runs = [make_run(status=Status.SUCCEEDED, at=NOON) for _ in range(3)]
    ids = [run.pk for run in runs]

    assert _ids(api.get(RUNS, {"ordering": "started_at"})) == ids
    assert _ids(api.get(RUNS, {"ordering": "-started_at"})) == ids[::-1]
    pages = [api.get(f"{RUNS}?ordering=-finished_at&limit=1&offset={i}")
             for i in range(3)]  # fmt: skip
    assert [_ids(page)[0] for page in pages] == ids[::-1]


def test_a_cursor_walks_every_run_once_newest_first_without_a_count(
    client_for: Callable[..., APIClient], viewer: Any, make_run: Any
) -> None:
    api = client_for(viewer)
    # Two runs share a queue time: the cursor's tie handling must keep both.
    times = [NOON, NOON, NOON + timedelta(minutes=1), NOON + timedelta(minutes=2)]
    runs = [make_run(status=Status.FAILED, at=at) for at in times]
    newest_first = [run.pk for run in sorted(runs, key=lambda r: (r.queued_at, r.pk),
                                             reverse=True)]  # fmt: skip

    seen: list[int] = []
    url: str | None = f"{RUNS}?cursor=&limit=1&status=failed"
    while url:
        body = api.get(url).json()
        assert "count" not in body
        seen += [run["id"] for run in body["results"]]
        url = body["next"]

    assert seen == newest_first
    oldest_first = api.get(f"{RUNS}?cursor=&ordering=queued_at&limit=10").json()
    assert [run["id"] for run in oldest_first["results"]] == newest_first[::-1]


def test_a_cursor_with_an_offset_or_a_nullable_ordering_is_refused(
    client_for: Callable[..., APIClient], viewer: Any, make_run: Any
) -> None:
    api = client_for(viewer)
    make_run()

    both = api.get(f"{RUNS}?cursor=&offset=5")
    by_start = api.get(f"{RUNS}?cursor=&ordering=-started_at")

    assert both.status_code == 400
    assert "offset" in both.json()["errors"]
    assert by_start.status_code == 400
    assert "queued_at" in str(by_start.json()["errors"]["ordering"])
    # Clients that page by offset see the list as before.
    assert api.get(f"{RUNS}?offset=0").json()["count"] == 1


def test_a_status_filter_counts_without_distinct(
    client_for: Callable[..., APIClient], viewer: Any, make_run: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for minute in range(3):
        make_run(status=Status.FAILED, at=NOON + timedelta(minutes=minute))

    with CaptureQueriesContext(connection) as queries:
        body = client_for(viewer).get(f"{RUNS}?status=failed&limit=2").json()

    assert body["count"] == 3
    # DISTINCT over every column turned this count into a sort of all matches.
    assert [sql for sql in _counts(queries) if "DISTINCT" in sql] == []


def test_the_run_list_costs_the_same_queries_for_one_run_or_thirty(
    client_for: Callable[..., APIClient],
    viewer: Any,
    make_schedule: Any,
    make_run: Any,
    django_assert_max_num_queries: Any,
) -> None:
    api = client_for(viewer)
    schedule = make_schedule()
    for minute in range(30):
        make_run(schedule, status=Status.SUCCEEDED, at=NOON + timedelta(minutes=minute))
    # Permission check (user permissions, group permissions), page. The page
    # reached the end, so it knows the count: no COUNT statement at all.
    with django_assert_max_num_queries(3):
        response = api.get(RUNS)
    assert (response.json()["count"], response.json()["count_is_exact"]) == (30, True)


def _counts(queries: Any) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]


def test_a_short_run_list_is_counted_exactly_and_only_as_far_as_needed(
    client_for: Callable[..., APIClient],
    viewer: Any,
    make_schedule: Any,
    make_run: Any,
    django_assert_max_num_queries: Any,
) -> None:
    api = client_for(viewer)
    schedule = make_schedule()
    runs = [
        make_run(schedule, status=Status.SUCCEEDED, at=NOON + timedelta(minutes=m))
        for m in range(12)
    ]

    with django_assert_max_num_queries(4) as queries:
        body = api.get(RUNS, {"limit": 5}).json()

    assert (body["count"], body["count_is_exact"]) == (12, True)
    assert [run["id"] for run in body["results"]] == [r.pk for r in runs[::-1][:5]]
    assert "offset=5" in body["next"]
    # The one count there is stops after EXACT_COUNT_UP_TO + 1 rows.
    [count] = _counts(queries)
    assert "LIMIT 10001" in count
    last = api.get(RUNS, {"limit": 5, "offset": 10}).json()
    assert (last["count"], last["next"], len(last["results"])) == (12, None, 2)


@pytest.mark.requires_postgres
def test_a_long_run_list_answers_with_an_estimate_not_a_full_count(
    client_for: Callable[..., APIClient],
    viewer: Any,
    make_schedule: Any,
    make_run: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_assert_max_num_queries: Any,
) -> None:
    # Past the bound (lowered from 10,000 to keep the test small) the list
    # asks PostgreSQL's planner instead of counting every row.
    monkeypatch.setattr("core.counting.EXACT_COUNT_UP_TO", 5)
    api = client_for(viewer)
    schedule = make_schedule()
    for minute in range(12):
        make_run(schedule, status=Status.SUCCEEDED, at=NOON + timedelta(minutes=minute))

    with django_assert_max_num_queries(5) as queries:
        body = api.get(RUNS, {"limit": 3, "offset": 3}).json()

    assert body["count_is_exact"] is False
    assert body["count"] >= 6  # never below what the count already saw
    assert len(body["results"]) == 3
    assert "offset=6" in body["next"]
    sql = [q["sql"] for q in queries.captured_queries]
    assert all("LIMIT 6" in count for count in _counts(queries)), sql
    assert any(statement.startswith("EXPLAIN") for statement in sql), sql
    # Every page is still reachable by following `next`.
    offset, seen = 0, []
    while True:
        page = api.get(RUNS, {"limit": 5, "offset": offset}).json()
        seen += [run["id"] for run in page["results"]]
        if page["next"] is None:
            break
        offset += 5
    assert len(seen) == len(set(seen)) == 12


def test_a_run_reads_with_its_request_outcome_and_links(
    client_for: Callable[..., APIClient], viewer: Any, make_schedule: Any, make_run: Any
) -> None:
    run = make_run(make_schedule(name="nightly"), status=Status.SUCCEEDED)

    body = client_for(viewer).get(f"{RUNS}{run.pk}/").json()

    assert body["schedule"] == "nightly"
    assert body["status"] == "succeeded"
    assert body["input"] == {}
    assert body["links"]["log"].endswith(f"/api/v1/runs/{run.pk}/log/")
    assert body["links"]["result_file"] is None


def test_an_operator_cancels_a_queued_run_and_a_finished_one_is_a_conflict(
    client_for: Callable[..., APIClient],
    operator: Any,
    viewer: Any,
    make_schedule: Any,
    make_run: Any,
) -> None:
    schedule = make_schedule()
    queued = make_run(schedule)
    assert client_for(viewer).post(f"{RUNS}{queued.pk}/cancel/").status_code == 403

    response = client_for(operator).post(f"{RUNS}{queued.pk}/cancel/")

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    again = client_for(operator).post(f"{RUNS}{queued.pk}/cancel/")
    assert again.status_code == 409
    assert again["Content-Type"] == "application/problem+json"


def test_retry_queues_the_next_attempt_now_and_answers_202_with_its_location(
    client_for: Callable[..., APIClient],
    operator: Any,
    make_schedule: Any,
    make_run: Any,
) -> None:
    failed = make_run(make_schedule(), status=Status.FAILED, error="boom")

    response = client_for(operator).post(f"{RUNS}{failed.pk}/retry/")

    assert response.status_code == 202, response.json()
    body = response.json()
    assert response["Location"].endswith(f"/api/v1/runs/{body['id']}/")
    assert (body["attempt"], body["retry_of"], body["trigger"]) == (
        2,
        failed.pk,
        "retry",
    )
    assert body["status"] == "queued"


def test_a_succeeded_run_is_not_retried(
    client_for: Callable[..., APIClient],
    operator: Any,
    make_schedule: Any,
    make_run: Any,
) -> None:
    done = make_run(make_schedule(), status=Status.SUCCEEDED)
    response = client_for(operator).post(f"{RUNS}{done.pk}/retry/")
    assert response.status_code == 409
    assert "only failed" in response.json()["detail"]


def test_the_log_is_served_as_json(
    client_for: Callable[..., APIClient], viewer: Any, make_run: Any
) -> None:
    run = make_run(status=Status.SUCCEEDED)
    body = client_for(viewer).get(f"{RUNS}{run.pk}/log/").json()
    assert body == {"id": run.pk, "status": "succeeded", "log": "12:00:00 INFO hello"}


def test_the_result_file_downloads_as_csv_with_its_name(
    client_for: Callable[..., APIClient], viewer: Any, make_run: Any
) -> None:
    run = make_run(status=Status.SUCCEEDED, file=("report.csv", "a,b\n1,2\n"))

    response = client_for(viewer).get(
        f"{RUNS}{run.pk}/result-file/", HTTP_ACCEPT="text/csv"
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    assert response["Content-Disposition"] == 'attachment; filename="report.csv"'
    assert b"".join(response.streaming_content) == b"a,b\n1,2\n"  # type: ignore[attr-defined]


def test_a_run_without_a_result_file_is_a_404_problem(
    client_for: Callable[..., APIClient], viewer: Any, make_run: Any
) -> None:
    run = make_run(status=Status.SUCCEEDED)
    response = client_for(viewer).get(f"{RUNS}{run.pk}/result-file/")
    assert response.status_code == 404
    assert response.json()["detail"] == "This run has no result file."


# --- run now ----------------------------------------------------------------------
def test_run_now_answers_202_with_the_run_and_its_location(
    client_for: Callable[..., APIClient], operator: Any, make_schedule: Any
) -> None:
    make_schedule(name="nightly", target="core.sleep", input={"seconds": 5})

    response = client_for(operator).post(
        "/api/v1/schedules/nightly/run-now/",
        {"args": ["2030-01"], "input": {"seconds": 0}},
        format="json",
    )

    assert response.status_code == 202, response.json()
    run = JobRun.objects.get()
    assert response["Location"].endswith(f"/api/v1/runs/{run.pk}/")
    assert (run.trigger, run.args, run.input) == ("api", ["2030-01"], {"seconds": 0})
    assert run.triggered_by == operator


def test_run_now_works_on_a_paused_schedule(
    client_for: Callable[..., APIClient], operator: Any, make_schedule: Any
) -> None:
    make_schedule(name="nightly", is_paused=True)
    response = client_for(operator).post("/api/v1/schedules/nightly/run-now/")
    assert response.status_code == 202
    assert response.json()["status"] == "queued"


def test_run_now_checks_the_input_against_the_service(
    client_for: Callable[..., APIClient], operator: Any, make_schedule: Any
) -> None:
    make_schedule(name="nap", target="core.sleep")
    response = client_for(operator).post(
        "/api/v1/schedules/nap/run-now/", {"input": {"seconds": -1}}, format="json"
    )
    assert response.status_code == 400
    assert "input" in response.json()["errors"]


def test_run_now_refused_by_the_overlap_policy_is_a_409(
    client_for: Callable[..., APIClient],
    operator: Any,
    viewer: Any,
    make_schedule: Any,
    make_run: Any,
) -> None:
    schedule = make_schedule(name="exclusive", overlap_policy="skip")
    make_run(schedule, status=Status.IN_PROGRESS)
    url = "/api/v1/schedules/exclusive/run-now/"
    assert client_for(viewer).post(url).status_code == 403

    response = client_for(operator).post(url)

    assert response.status_code == 409
    body = response.json()
    assert body["title"] == "Conflict"
    assert "already has a run in progress" in body["detail"]


# --- services ---------------------------------------------------------------------
def test_the_services_catalogue_names_each_service_with_its_input_fields(
    client_for: Callable[..., APIClient], viewer: Any
) -> None:
    api = client_for(viewer)
    names = [s["name"] for s in api.get("/api/v1/services/").json()]
    assert {"core.echo", "core.sleep"} <= set(names)
    assert names == sorted(names)

    sleep = api.get("/api/v1/services/core.sleep/").json()
    assert sleep["input_schema"]["properties"]["seconds"]["type"] == "number"
    assert sleep["fields"] == [
        {"name": "seconds", "type": "number", "required": False, "description": ""}
    ]
    assert api.get("/api/v1/services/no.such/").status_code == 404


@pytest.mark.django_db
def test_a_date_filter_with_a_far_offset_is_compared_in_utc(
    client_for: Any, superuser: Any
) -> None:
    client = client_for(superuser)
    response = client.get("/api/v1/runs/?finished_to=0489-12-25T11:44:13-16:50")
    assert response.status_code == 200


@pytest.mark.django_db
def test_run_now_with_a_nul_character_in_its_input_is_a_field_error(
    client_for: Any, superuser: Any, make_schedule: Any
) -> None:
    schedule = make_schedule()
    response = client_for(superuser).post(
        f"/api/v1/schedules/{schedule.name}/run-now/",
        {"input": {"note": "a\u0000b"}},
        format="json",
    )
    assert response.status_code == 400
    assert "NUL character" in response.json()["errors"]["input"][0]
