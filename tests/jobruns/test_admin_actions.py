"""Acting from the admin: Run now, Pause, Resume, Duplicate, Retry and Cancel call
the services with the API's permissions; a viewer sees no buttons and a crafted
POST by one is refused with 403 and changes nothing."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from core.accounts import profile_set_time_zone
from jobruns.models import JobRun
from jobruns.services import jobrun_enqueue, jobrun_execute
from schedules.models import Schedule
from schedules.services import schedule_pause, schedule_tags_replace
from tests.jobruns.conftest import MakeSchedule

pytestmark = pytest.mark.django_db
SCHEDULES = "admin:schedules_schedule_changelist"
RUNS = "admin:jobruns_jobrun_changelist"


@pytest.fixture(autouse=True)
def _no_broker() -> Iterator[None]:
    """Queued runs stay queued: these tests look at pages, not at execution."""
    with mock.patch("jobruns.tasks.execute_run.apply_async"):
        yield


def _signed_in(user: Any, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def _csrf(client: Client) -> str:
    """A valid token, as a browser holding the page would send it."""
    client.get(reverse(SCHEDULES))
    return str(client.cookies["csrftoken"].value)


def _url(view: str, schedule: Schedule) -> str:
    return reverse(f"admin:schedules_schedule_{view}", args=[schedule.pk])


def _failed_run(make_schedule: MakeSchedule) -> JobRun:
    schedule = make_schedule(target="core.fail", input={"message": "boom"})
    run = jobrun_enqueue(schedule=schedule, trigger="api", now=timezone.now())
    jobrun_execute(run_id=run.pk, worker="test", in_process=True)
    run.refresh_from_db()
    assert run.status == JobRun.Status.FAILED
    return run


# --- who sees which buttons -----------------------------------------------------------
def test_a_viewer_sees_no_run_pause_retry_or_cancel_buttons(
    viewer: Any, make_schedule: MakeSchedule
) -> None:
    schedule = make_schedule()
    failed = _failed_run(make_schedule)
    queued = jobrun_enqueue(schedule=schedule, trigger="api", now=timezone.now())
    client = _signed_in(viewer)
    pages = [
        reverse(SCHEDULES),
        reverse("admin:schedules_schedule_change", args=[schedule.pk]),
        reverse("admin:jobruns_jobrun_change", args=[failed.pk]),
        reverse("admin:jobruns_jobrun_change", args=[queued.pk]),
        reverse(RUNS),
    ]
    for url in pages:
        body = client.get(url).content.decode()
        for button in ("run-now/", "/pause/", "/resume/", "/retry/", "/cancel/"):
            assert button not in body, (url, button)
        for action in ("run_now_selected", "pause_selected", "cancel_runs"):
            assert f'value="{action}"' not in body, (url, action)


def test_an_operator_sees_run_now_pause_retry_and_cancel(
    operator: Any, make_schedule: MakeSchedule
) -> None:
    schedule = make_schedule()
    failed = _failed_run(make_schedule)
    client = _signed_in(operator)
    page = client.get(reverse("admin:schedules_schedule_change", args=[schedule.pk]))
    assert b"Run now" in page.content
    assert b"/pause/" in page.content
    assert b"Run now" in client.get(reverse(SCHEDULES)).content
    run_page = client.get(reverse("admin:jobruns_jobrun_change", args=[failed.pk]))
    assert b">Retry<" in run_page.content
    assert b">Cancel<" not in run_page.content  # a finished run cannot be cancelled


def test_crafted_posts_by_a_viewer_answer_403_and_change_nothing(
    viewer: Any, make_schedule: MakeSchedule
) -> None:
    schedule = make_schedule()
    paused = make_schedule()
    schedule_pause(schedule=paused, by=None, reason="held", now=timezone.now())
    failed = _failed_run(make_schedule)
    queued = jobrun_enqueue(schedule=schedule, trigger="api", now=timezone.now())
    runs_before = JobRun.objects.count()
    client = _signed_in(viewer, csrf=True)
    token = {"csrfmiddlewaretoken": _csrf(client)}
    run_now = reverse("admin:jobruns_jobrun_run_now") + f"?schedule={schedule.pk}"
    posts: list[tuple[str, dict[str, Any]]] = [
        (run_now, {"args": "a b", "input": ""}),
        (_url("pause", schedule), {"reason": "x"}),
        (reverse("admin:schedules_schedule_resume", args=[paused.pk]), {}),
        (reverse("admin:jobruns_jobrun_retry", args=[failed.pk]), {}),
        (reverse("admin:jobruns_jobrun_cancel", args=[queued.pk]), {}),
        *(
            (reverse(SCHEDULES), {"action": action, "_selected_action": [pk],
                                  "apply": "1", "reason": "x"})
            for action, pk in (
                ("delete_selected", schedule.pk),
                ("pause_selected", schedule.pk),
                ("resume_selected", paused.pk),
                ("run_now_selected", schedule.pk),
            )
        ),
        *(
            (reverse(RUNS), {"action": action, "_selected_action": [pk], "apply": "1"})
            for action, pk in (("cancel_runs", queued.pk), ("retry_runs", failed.pk))
        ),
    ]  # fmt: skip
    for url, data in posts:
        response = client.post(url, {**data, **token})
        assert response.status_code == 403, (url, data, response.status_code)
    assert JobRun.objects.count() == runs_before
    schedule.refresh_from_db()
    paused.refresh_from_db()
    queued.refresh_from_db()
    assert not schedule.is_paused
    assert paused.is_paused
    assert queued.status == JobRun.Status.QUEUED


# --- Run now --------------------------------------------------------------------------
def test_run_now_with_args_and_an_input_override_lands_on_the_new_run(
    operator: Any, make_schedule: MakeSchedule
) -> None:
    schedule = make_schedule(target="core.sleep", input={"seconds": 1})
    client = _signed_in(operator)
    url = reverse("admin:jobruns_jobrun_run_now") + f"?schedule={schedule.pk}"
    form = client.get(url)
    assert b"Input override" in form.content
    response = client.post(
        url, {"args": 'first "two words"', "input": '{"seconds": 0}'}
    )
    run = JobRun.objects.get(schedule=schedule)
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:jobruns_jobrun_change", args=[run.pk])
    assert run.args == ["first", "two words"]
    assert run.input == {"seconds": 0}
    assert run.trigger == JobRun.Trigger.MANUAL
    assert run.triggered_by == operator


def test_run_now_refuses_an_input_the_service_schema_refuses(
    operator: Any, make_schedule: MakeSchedule
) -> None:
    schedule = make_schedule(target="core.sleep")
    client = _signed_in(operator)
    url = reverse("admin:jobruns_jobrun_run_now") + f"?schedule={schedule.pk}"
    for data, words in (
        ({"input": '{"seconds": "soon"}'}, "is not of type 'number'"),
        ({"input": "[1, 2]"}, "must be a JSON object"),
        ({"input": "{nope"}, "not valid JSON"),
        ({"args": 'an "unclosed'}, "cannot split the arguments"),
    ):
        response = client.post(url, data)
        assert response.status_code == 200
        assert words in html.unescape(response.content.decode()), data
    assert not JobRun.objects.exists()


def test_run_now_refused_by_the_overlap_policy_says_so_on_the_form(
    operator: Any, make_schedule: MakeSchedule
) -> None:
    schedule = make_schedule(overlap_policy="skip")
    jobrun_enqueue(schedule=schedule, trigger="api", now=timezone.now())
    response = _signed_in(operator).post(
        reverse("admin:jobruns_jobrun_run_now") + f"?schedule={schedule.pk}", {}
    )
    assert response.status_code == 200
    assert "already has a run in progress" in response.content.decode()
    assert JobRun.objects.filter(schedule=schedule).count() == 1


def test_bulk_run_now_asks_once_and_lists_the_new_runs(
    operator: Any, make_schedule: MakeSchedule
) -> None:
    ids = [make_schedule().pk, make_schedule().pk]
    client = _signed_in(operator)
    chosen = client.post(
        reverse(SCHEDULES), {"action": "run_now_selected", "_selected_action": ids}
    )
    assert chosen.status_code == 302
    assert reverse("admin:jobruns_jobrun_run_now") in chosen["Location"]
    done = client.post(chosen["Location"], {"args": "", "input": ""})
    runs = JobRun.objects.filter(schedule_id__in=ids)
    assert runs.count() == 2
    assert done.status_code == 302
    assert "id__in=" in done["Location"]
    listed = client.get(done["Location"]).content.decode()
    assert all(f"#{run.pk}" in listed for run in runs)


# --- Pause, Resume, Duplicate ---------------------------------------------------------
def test_pause_asks_for_a_reason_and_resume_recomputes_the_next_run(
    operator: Any, make_schedule: MakeSchedule
) -> None:
    schedule = make_schedule(start_at=None, interval_seconds=3600)
    client = _signed_in(operator)
    pause = reverse("admin:schedules_schedule_pause", args=[schedule.pk])
    assert b'name="reason"' in client.get(pause).content
    assert client.post(pause, {"reason": ""}).status_code == 200  # reason required
    assert client.post(pause, {"reason": "vendor maintenance"}).status_code == 302
    schedule.refresh_from_db()
    assert schedule.is_paused
    assert schedule.paused_reason == "vendor maintenance"
    assert schedule.next_run_at is None
    resume = reverse("admin:schedules_schedule_resume", args=[schedule.pk])
    assert client.post(resume).status_code == 302
    schedule.refresh_from_db()
    assert not schedule.is_paused
    assert schedule.next_run_at is not None


def test_bulk_pause_shows_an_intermediate_page_before_pausing(
    operator: Any, make_schedule: MakeSchedule
) -> None:
    ids = [make_schedule().pk, make_schedule().pk]
    client = _signed_in(operator)
    asked = client.post(
        reverse(SCHEDULES), {"action": "pause_selected", "_selected_action": ids}
    )
    assert asked.status_code == 200
    assert b'name="reason"' in asked.content
    assert not Schedule.objects.filter(is_paused=True).exists()
    client.post(
        reverse(SCHEDULES),
        {"action": "pause_selected", "_selected_action": ids, "apply": "1",
         "reason": "quarter close"},
    )  # fmt: skip
    reasons = set(Schedule.objects.values_list("paused_reason", flat=True))
    assert reasons == {"quarter close"}


def test_duplicate_makes_a_paused_copy_with_tags_under_a_new_name(
    editor: Any, make_schedule: MakeSchedule
) -> None:
    original = make_schedule(name="nightly", input={"a": 1}, extra="ctx")
    schedule_tags_replace(
        schedule=original, tags={"team": "ops"}, by=None, now=timezone.now()
    )
    client = _signed_in(editor)
    url = reverse("admin:schedules_schedule_duplicate", args=[original.pk])
    assert b'value="nightly-copy"' in client.get(url).content
    taken = client.post(url, {"name": "nightly"})
    assert b"already exists" in taken.content
    response = client.post(url, {"name": "nightly-2"})
    copy = Schedule.objects.get(name="nightly-2")
    assert response["Location"] == reverse(
        "admin:schedules_schedule_change", args=[copy.pk]
    )
    assert copy.is_paused
    assert copy.next_run_at is None
    assert (copy.target, copy.input, copy.extra) == ("core.echo", {"a": 1}, "ctx")
    assert {t.key: t.value for t in copy.tags.all()} == {"team": "ops"}


# --- Retry and Cancel -----------------------------------------------------------------
def test_retry_confirms_then_queues_the_next_attempt_and_shows_it(
    operator: Any, make_schedule: MakeSchedule
) -> None:
    failed = _failed_run(make_schedule)
    client = _signed_in(operator)
    url = reverse("admin:jobruns_jobrun_retry", args=[failed.pk])
    confirm = client.get(url)
    assert b"Retry run #" in confirm.content
    assert b'id="confirm-submit"' in confirm.content
    assert JobRun.objects.filter(retry_of=failed).count() == 0
    response = client.post(url)
    new = JobRun.objects.get(retry_of=failed)
    assert response["Location"] == reverse("admin:jobruns_jobrun_change", args=[new.pk])
    assert new.attempt == 2
    page = client.get(response["Location"]).content.decode()
    assert f'href="{reverse("admin:jobruns_jobrun_change", args=[failed.pk])}"' in page


def test_cancel_confirms_then_cancels_a_queued_run(
    operator: Any, make_schedule: MakeSchedule
) -> None:
    run = jobrun_enqueue(schedule=make_schedule(), trigger="api", now=timezone.now())
    client = _signed_in(operator)
    url = reverse("admin:jobruns_jobrun_cancel", args=[run.pk])
    assert client.get(url).status_code == 200
    run.refresh_from_db()
    assert run.status == JobRun.Status.QUEUED
    client.post(url)
    run.refresh_from_db()
    assert run.status == JobRun.Status.CANCELLED
    assert run.error == f"cancelled by {operator.get_username()}"


# --- The run page and its live data ---------------------------------------------------
def test_the_run_page_shows_pretty_json_a_monospaced_traceback_in_the_users_zone(
    operator: Any, make_schedule: MakeSchedule
) -> None:
    profile_set_time_zone(user=operator, time_zone="Asia/Tokyo")
    run = jobrun_enqueue(
        schedule=make_schedule(target="core.sleep"),
        trigger="api",
        input_override={"seconds": 0, "nested": {"a": [1, 2]}},
        args=["x"],
        now=timezone.now(),
    )
    jobrun_execute(run_id=run.pk, worker="test", in_process=True)
    JobRun.objects.filter(pk=run.pk).update(
        traceback="Traceback (most recent call last):\n"
        '  File "x.py", line 1\n    boom()'
    )
    body = (
        _signed_in(operator)
        .get(reverse("admin:jobruns_jobrun_change", args=[run.pk]))
        .content.decode()
    )
    assert "&quot;nested&quot;: {\n    &quot;a&quot;: [\n      1," in body
    assert "{&#x27;" not in body  # no Python reprs
    assert '<pre class="run-traceback" tabindex="0">Traceback' in body
    assert "\n    boom()" in body
    assert " JST" in body
    # The log's lines carry UTC instants; the page shows them in Tokyo time.
    log = body.split('id="run-log"')[1].split("</pre>")[0]
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d JST INFO sleeping 0", log)
    assert 'id="run-live-config"' in body


def test_the_live_endpoints_answer_status_times_and_the_log_tail(
    operator: Any, make_schedule: MakeSchedule
) -> None:
    queued = jobrun_enqueue(schedule=make_schedule(), trigger="api", now=timezone.now())
    done = jobrun_enqueue(service="core.echo", trigger="api", now=timezone.now())
    jobrun_execute(run_id=done.pk, worker="test", in_process=True)
    client = _signed_in(operator)
    one = client.get(reverse("admin:jobruns_jobrun_live", args=[done.pk])).json()
    assert one["status"] == "succeeded"
    assert one["finished"] is True
    assert one["started_at"].endswith("UTC")
    assert '"args"' in one["output"]
    many = client.get(
        reverse("admin:jobruns_jobrun_live_list") + f"?id={queued.pk}&id={done.pk}"
    ).json()["runs"]
    assert many[str(queued.pk)]["status"] == "queued"
    assert many[str(queued.pk)]["finished"] is False


def test_the_date_range_filter_reads_days_in_the_users_zone(
    operator: Any, make_schedule: MakeSchedule
) -> None:
    profile_set_time_zone(user=operator, time_zone="Asia/Tokyo")
    schedule = make_schedule()
    # 2030-01-07 23:30 Tokyo is 14:30 UTC; 2030-01-08 00:30 Tokyo is 15:30 UTC.
    late = jobrun_enqueue(
        schedule=schedule,
        trigger="api",
        now=datetime(2030, 1, 7, 14, 30, tzinfo=UTC),
    )
    jobrun_execute(run_id=late.pk, worker="test", in_process=True)
    next_day = jobrun_enqueue(
        schedule=schedule,
        trigger="api",
        now=datetime(2030, 1, 7, 15, 30, tzinfo=UTC),
    )
    body = (
        _signed_in(operator)
        .get(reverse(RUNS) + "?queued_from=2030-01-07&queued_to=2030-01-07")
        .content.decode()
    )
    assert f"#{late.pk}<" in body
    assert f"#{next_day.pk}<" not in body


# --- The schedule list ----------------------------------------------------------------
def test_the_schedule_list_shows_last_status_and_outcome_strip_and_filters_by_it(
    operator: Any, make_schedule: MakeSchedule
) -> None:
    failed = _failed_run(make_schedule)
    healthy = make_schedule(name="healthy")
    client = _signed_in(operator)
    body = client.get(reverse(SCHEDULES)).content.decode()
    assert '<span class="status-badge status-failed">failed</span>' in body
    assert 'class="outcome status-failed"' in body
    assert "never ran" in body
    only_failed = client.get(reverse(SCHEDULES) + "?last_status=failed")
    names = [row.name for row in only_failed.context["cl"].result_list]
    assert names == [failed.schedule_name]
    never = client.get(reverse(SCHEDULES) + "?last_status=never")
    assert [row.name for row in never.context["cl"].result_list] == [healthy.name]


def test_the_schedule_list_costs_the_same_queries_for_3_or_30_schedules(
    operator: Any,
    make_schedule: MakeSchedule,
    django_assert_max_num_queries: Any,
) -> None:
    client = _signed_in(operator)

    def fill(count: int) -> None:
        for _ in range(count):
            schedule = make_schedule()
            schedule_tags_replace(
                schedule=schedule, tags={"team": "a"}, by=None, now=timezone.now()
            )
            for minutes in range(3):
                jobrun_enqueue(
                    schedule=schedule,
                    trigger="api",
                    asked=False,
                    now=timezone.now() - timedelta(minutes=minutes),
                )

    fill(3)
    client.get(reverse(SCHEDULES))  # warm the session and content types
    with django_assert_max_num_queries(16) as small:
        client.get(reverse(SCHEDULES))
    fill(27)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(reverse(SCHEDULES))
    assert len(response.context["cl"].result_list) == 30
