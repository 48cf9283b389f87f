"""The dashboard's figures (selectors) and its page, for each persona."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client

from core.models import WorkerHeartbeat
from core.services import worker_heartbeat_record
from jobruns import dashboard as runs
from jobruns.models import JobRun
from schedules import dashboard as schedules
from schedules.services import schedule_pause
from tests.conftest import PASSWORD
from tests.scheduler_site.conftest import MakeRun, MakeSchedule

Status = JobRun.Status
NOW = datetime(2030, 1, 7, 12, 20, tzinfo=UTC)  # a Monday, 20 min past noon
HOUR = timedelta(hours=1)

pytestmark = [pytest.mark.requires_postgres, pytest.mark.django_db]


@pytest.fixture
def history(make_schedule: MakeSchedule, make_run: MakeRun) -> dict[str, Any]:
    """Runs of several statuses over the last day, and one from before it."""
    before = NOW - timedelta(days=2)
    main = make_schedule(now=before, name="main")
    made = {
        "succeeded_now": make_run(
            main, Status.SUCCEEDED, at=NOW - timedelta(minutes=10)
        ),
        "succeeded_now_2": make_run(
            main, Status.SUCCEEDED, at=NOW - timedelta(minutes=5)
        ),
        "failed_2h": make_run(
            main, Status.FAILED, at=NOW - 2 * HOUR, error="\nKeyError: 'sku'\nmore"
        ),
        "queued_5h": make_run(main, Status.QUEUED, at=NOW - 5 * HOUR),
        "running": make_run(main, Status.IN_PROGRESS, at=NOW - timedelta(minutes=7)),
        "cancelled_1h": make_run(main, Status.CANCELLED, at=NOW - HOUR),
        "skipped_3h": make_run(main, Status.SKIPPED, at=NOW - 3 * HOUR),
        "timed_out_23h": make_run(main, Status.TIMED_OUT, at=NOW - 23 * HOUR),
        "old": make_run(main, Status.SUCCEEDED, at=NOW - 30 * HOUR),
    }
    # Three failures in a row: failing. Two failures then a success: not.
    broken = make_schedule(now=before, name="broken")
    for hours in (6, 4, 3):
        make_run(broken, Status.FAILED, at=NOW - hours * HOUR)
    flaky = make_schedule(now=before, name="flaky")
    make_run(flaky, Status.FAILED, at=NOW - 6 * HOUR)
    make_run(flaky, Status.FAILED, at=NOW - 5 * HOUR)
    make_run(flaky, Status.SUCCEEDED, at=NOW - 4 * HOUR)
    young = make_schedule(now=before, name="young")  # only two outcomes so far
    make_run(young, Status.FAILED, at=NOW - 6 * HOUR)
    make_run(young, Status.FAILED, at=NOW - 5 * HOUR)
    return made


def test_activity_counts_runs_per_utc_hour_and_status_over_24_hours(
    history: dict[str, Any],
) -> None:
    activity = runs.jobrun_activity(now=NOW)

    assert len(activity.bins) == 24
    assert activity.since == datetime(2030, 1, 6, 13, 0, tzinfo=UTC)
    assert activity.bins[-1].start == datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
    by_start = {hour.start: hour.counts for hour in activity.bins}
    assert by_start[datetime(2030, 1, 7, 12, tzinfo=UTC)] == {
        "succeeded": 2,
        "in_progress": 1,
    }
    assert by_start[datetime(2030, 1, 7, 10, tzinfo=UTC)] == {"failed": 1}
    assert by_start[datetime(2030, 1, 6, 13, tzinfo=UTC)] == {"timed_out": 1}
    assert activity.by_status == {
        "queued": 1,
        "in_progress": 1,
        "succeeded": 3,  # two of main, one of flaky; the 30-hour-old one is out
        "failed": 8,  # main 1, broken 3, flaky 2, young 2
        "timed_out": 1,
        "cancelled": 1,
        "skipped": 1,
    }


def test_failing_schedules_are_those_whose_last_three_outcomes_failed(
    history: dict[str, Any],
) -> None:
    failing = runs.jobrun_failing_schedules(now=NOW, last=3)

    assert [f.name for f in failing] == ["broken"]
    assert failing[0].last_failed_at == NOW - 3 * HOUR + timedelta(seconds=30)


def test_failures_older_than_the_horizon_do_not_make_a_schedule_failing(
    make_schedule: MakeSchedule, make_run: MakeRun
) -> None:
    old = make_schedule(now=NOW - timedelta(days=30), name="old-news")
    for days in (10, 9, 8):
        make_run(old, Status.FAILED, at=NOW - timedelta(days=days))

    assert runs.jobrun_failing_schedules(now=NOW, last=3) == []
    assert len(runs.jobrun_failing_schedules(now=NOW + timedelta(days=-7), last=3)) == 1


def test_recent_failures_are_newest_first_and_in_progress_longest_first(
    history: dict[str, Any],
) -> None:
    failures = runs.jobrun_recent_failures(limit=3)
    in_progress = runs.jobrun_in_progress()

    assert failures[0].pk == history["failed_2h"].pk
    assert [run.status for run in failures] == ["failed", "failed", "failed"]
    assert [run.pk for run in in_progress] == [history["running"].pk]
    assert runs.jobrun_queue_state() == runs.QueueState(queued=1, in_progress=1)


def test_schedule_counts_split_active_paused_finished_and_measure_the_lag(
    make_schedule: MakeSchedule,
) -> None:
    earlier = NOW - timedelta(days=1)
    make_schedule(now=earlier, name="due", start_at=NOW - timedelta(minutes=3))
    make_schedule(now=earlier, name="later", start_at=NOW + HOUR)
    paused = make_schedule(now=earlier, name="paused")
    schedule_pause(schedule=paused, by=None, reason="maintenance", now=earlier)
    make_schedule(  # made now, its only window already past: finished
        now=NOW,
        name="over",
        start_at=NOW - 5 * HOUR,
        end_at=NOW - 4 * HOUR - timedelta(minutes=30),
    )

    counts = schedules.schedule_counts(now=NOW)

    assert (counts.active, counts.paused, counts.finished) == (2, 1, 1)
    assert counts.dispatch_lag(NOW) == timedelta(minutes=3)
    nexts = schedules.schedule_next_fires(limit=10)
    assert [s.name for s in nexts] == ["due", "later"]


def test_workers_are_alive_while_their_heartbeat_is_recent(settings: Any) -> None:
    settings.WORKER_SEEN_WITHIN_SECONDS = 60
    worker_heartbeat_record(hostname="w-fresh", now=NOW - timedelta(seconds=10))
    worker_heartbeat_record(hostname="w-gone", now=NOW - timedelta(minutes=10))

    health = runs.system_health(now=NOW)

    assert [(w.hostname, w.alive) for w in health.workers] == [
        ("w-fresh", True),
        ("w-gone", False),
    ]
    assert health.workers_alive == 1
    assert WorkerHeartbeat.objects.count() == 2


# --- the page -----------------------------------------------------------------------
def _signed_in(user: Any) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def _figure(html: str, name: str) -> str:
    found = re.search(
        rf'data-figure="{re.escape(name)}"[^>]*>(.*?)</a>', html, flags=re.S
    )
    assert found, f"no figure {name}"
    return re.sub(r"<[^>]+>", " ", found.group(1)).split()[-1 if "runs-" in name else 0]


def test_dashboard_shows_the_figures_with_links_into_filtered_lists(
    superuser: Any, history: dict[str, Any]
) -> None:
    with time_machine.travel(NOW, tick=False):
        html = _signed_in(superuser).get("/admin/").content.decode()

    assert _figure(html, "runs-failed") == "8"
    assert _figure(html, "runs-succeeded") == "3"
    assert _figure(html, "schedules-active") == "4"
    assert (
        'href="/admin/jobruns/jobrun/?status__exact=failed&amp;queued_at__gte=2030-01-06T13%3A00%3A00%2B00%3A00"'
        in html
    )
    assert "/admin/schedules/schedule/?is_paused__exact=1" in html
    assert "KeyError: &#x27;sku&#x27;" in html  # the error's first non-empty line
    assert "more" not in html.split("KeyError")[1].split("</td>")[0]
    bars = re.findall(
        r'data-column="([^"]+)" data-status="([^"]+)" data-count="(\d+)"', html
    )
    assert ("2030-01-07T12:00:00+00:00", "succeeded", "2") in bars
    assert sum(int(count) for _, _, count in bars) == 16


def test_dashboard_query_count_does_not_grow_with_the_history(
    superuser: Any,
    history: dict[str, Any],
    make_run: MakeRun,
    django_assert_max_num_queries: Any,
) -> None:
    main = history["old"].schedule
    for minutes in range(20):
        make_run(main, Status.FAILED, at=NOW - timedelta(minutes=30 + minutes))
    with time_machine.travel(NOW, tick=False):
        client = _signed_in(superuser)
        # Session, user, profile; then one query per figure: schedule counts,
        # next fires, activity, in progress, failures, failing schedules,
        # queue state, heartbeats, beat.
        with django_assert_max_num_queries(12):
            response = client.get("/admin/")
    assert response.status_code == 200


def test_figures_fragment_is_the_same_figures_without_the_page(
    superuser: Any, history: dict[str, Any]
) -> None:
    with time_machine.travel(NOW, tick=False):
        response = _signed_in(superuser).get("/admin/dashboard/figures/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert "<html" not in html
    assert _figure(html, "runs-failed") == "8"


def test_a_viewer_sees_the_dashboard_but_no_system_tables(
    viewer: Any, history: dict[str, Any]
) -> None:
    client = _signed_in(viewer)

    html = client.get("/admin/").content.decode()

    assert 'data-figure="runs-failed"' in html
    assert "django_celery_beat" not in html
    assert "Periodic tasks" not in html
    for model in ("periodictask", "crontabschedule", "intervalschedule",
                  "clockedschedule", "solarschedule"):  # fmt: skip
        assert client.get(f"/admin/django_celery_beat/{model}/").status_code == 403


def test_a_superuser_sees_beat_tables_read_only_under_system(superuser: Any) -> None:
    client = _signed_in(superuser)

    index = client.get("/admin/").content.decode()
    listing = client.get("/admin/django_celery_beat/periodictask/")
    add = client.post("/admin/django_celery_beat/crontabschedule/add/", {"minute": "*"})

    assert "/admin/django_celery_beat/periodictask/" in index
    assert "Periodic Tasks</a>" not in index  # no app of its own: under System
    assert listing.status_code == 200
    assert "/admin/django_celery_beat/periodictask/add/" not in listing.content.decode()
    assert add.status_code == 403


def test_anonymous_visitors_are_sent_to_the_login_page() -> None:
    client = Client()

    assert client.get("/")["Location"] == "/admin/"
    for url in ("/admin/", "/admin/dashboard/figures/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


def test_view_site_leads_to_the_dashboard(superuser: Any) -> None:
    html = _signed_in(superuser).get("/admin/jobruns/jobrun/").content.decode()
    assert '<a href="/admin/">View site</a>' in html
