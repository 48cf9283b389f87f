"""Schedule admin: list, kind-aware form, validation as form errors, bulk actions."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from schedules.models import Schedule

pytestmark = pytest.mark.django_db
Make = Callable[..., Schedule]
CHANGELIST = "admin:schedules_schedule_changelist"
ADD = "admin:schedules_schedule_add"
# The intermediate page's answer: the reason, and "apply" to act on it.
REASON = {"apply": "1", "reason": "vendor maintenance"}


def _form(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "from-admin",
        "description": "",
        "kind": "cron",
        "time_zone": "Europe/Berlin",
        "cron_expression": "30 2 * * *",
        "target": "reports.nightly",
        "input": "{}",
        "priority": "0",
        "overlap_policy": "skip",
        "missed_policy": "run_once",
        "catchup_window_seconds": "60",
        "max_retries": "0",
        "retry_delay_seconds": "30",
        **{f"interval_{part}": "0" for part in ("weeks", "days", "hours")},
        **{f"interval_{part}": "0" for part in ("minutes", "seconds")},
        "tags-TOTAL_FORMS": "1",
        "tags-INITIAL_FORMS": "0",
        "tags-MIN_NUM_FORMS": "0",
        "tags-MAX_NUM_FORMS": "1000",
        "tags-0-key": "team",
        "tags-0-value": "billing",
    }
    data.update(overrides)
    return data


def _future(make_schedule: Make, **fields: Any) -> Schedule:
    return make_schedule(at=timezone.now(), **fields)


def test_changelist_shows_description_zone_next_run_and_tags(
    admin_client: Client, make_schedule: Make
) -> None:
    _future(make_schedule, tags={"team": "billing"})
    response = admin_client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    body = response.content.decode()
    assert "At 02:30 (Europe/Berlin)" in body
    assert "team=billing" in body
    # The next run is shown in the viewer's zone (UTC for this admin), with
    # seconds, the zone's abbreviation and how far away it is.
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", body)
    assert re.search(r"in \d+ (h|min|d)", body)


def test_changelist_search_and_filters_answer(
    admin_client: Client, make_schedule: Make
) -> None:
    _future(make_schedule)
    for query in (
        "?q=nightly",
        "?kind__exact=cron",
        "?is_paused__exact=1",
        "?state=finished",
    ):
        assert admin_client.get(reverse(CHANGELIST) + query).status_code == 200


def test_add_form_creates_through_the_service_with_tags(
    admin_client: Client, admin_user: Any
) -> None:
    response = admin_client.post(reverse(ADD), _form())
    assert response.status_code == 302, response.content.decode()[:2000]
    schedule = Schedule.objects.get(name="from-admin")
    assert schedule.created_by == admin_user
    assert schedule.cron_dialect == "unix"
    assert schedule.next_run_at is not None
    assert dict(schedule.tags.values_list("key", "value")) == {"team": "billing"}


def test_add_form_with_a_bad_cron_shows_the_error_on_the_field(
    admin_client: Client,
) -> None:
    response = admin_client.post(reverse(ADD), _form(cron_expression="0 0 30 2 *"))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["cron_expression"] == ["this expression never fires (30 February)"]
    assert not Schedule.objects.exists()


def test_add_form_with_a_zero_interval_shows_a_form_error_not_a_500(
    admin_client: Client,
) -> None:
    response = admin_client.post(reverse(ADD), _form(kind="interval"))
    assert response.status_code == 200
    errors = response.context["adminform"].form.non_field_errors()
    assert "interval: an interval needs at least one positive part" in errors[0]


def test_add_form_with_a_bad_zone_and_bad_input_shows_both(
    admin_client: Client,
) -> None:
    response = admin_client.post(
        reverse(ADD), _form(time_zone="Europe/Berln", input="[1]")
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "unknown time zone 'Europe/Berln'" in errors["time_zone"][0]
    assert errors["input"][0].startswith("input must be a JSON object")


def test_change_form_shows_the_description_and_next_ten_runs(
    admin_client: Client, make_schedule: Make
) -> None:
    schedule = _future(make_schedule)
    url = reverse("admin:schedules_schedule_change", args=[schedule.pk])
    response = admin_client.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="schedule-preview"' in body
    assert body.count("<tr><td>") == 10
    assert "schedules/schedule_form.js" in body


def test_change_form_saves_a_partial_edit_through_the_service(
    admin_client: Client, make_schedule: Make
) -> None:
    schedule = _future(make_schedule, tags={"team": "billing"})
    url = reverse("admin:schedules_schedule_change", args=[schedule.pk])
    data = _form(
        name=schedule.name,
        description="edited",
        **{"tags-INITIAL_FORMS": "1", "tags-0-id": str(schedule.tags.get().pk)},
        **{"tags-0-schedule": str(schedule.pk)},
    )
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    schedule.refresh_from_db()
    assert schedule.description == "edited"


def test_bulk_pause_reports_how_many_were_paused_and_already_paused(
    admin_client: Client, make_schedule: Make
) -> None:
    ids = [_future(make_schedule, name=name).pk for name in ("a", "b", "c", "d")]
    admin_client.post(
        reverse(CHANGELIST),
        {"action": "pause_selected", "_selected_action": [ids[0]], **REASON},
        follow=True,  # consumes that request's own message
    )
    response = admin_client.post(
        reverse(CHANGELIST),
        {"action": "pause_selected", "_selected_action": ids, **REASON},
        follow=True,
    )
    texts = [str(message) for message in response.context["messages"]]
    assert texts == ["3 schedules paused, 1 was already paused"]
    assert Schedule.objects.filter(is_paused=True).count() == 4


def test_bulk_resume_reports_counts_and_recomputes_next_runs(
    admin_client: Client, make_schedule: Make
) -> None:
    ids = [_future(make_schedule, name=name).pk for name in ("a", "b")]
    Schedule.objects.filter(pk=ids[0]).update(is_paused=True, next_run_at=None)
    response = admin_client.post(
        reverse(CHANGELIST),
        {"action": "resume_selected", "_selected_action": ids},
        follow=True,
    )
    texts = [str(message) for message in response.context["messages"]]
    assert texts == ["1 schedule resumed, 1 was not paused"]
    resumed = Schedule.objects.get(pk=ids[0])
    assert resumed.next_run_at is not None
    assert resumed.next_run_at > timezone.now() - timedelta(seconds=5)
    assert isinstance(resumed.next_run_at, datetime)


def test_ticking_paused_on_the_change_form_pauses_through_the_service(
    admin_client: Client, make_schedule: Make, admin_user: Any
) -> None:
    schedule = _future(make_schedule)
    url = reverse("admin:schedules_schedule_change", args=[schedule.pk])
    data = _form(name=schedule.name, is_paused="on", paused_reason="maintenance")
    data["tags-0-key"] = data["tags-0-value"] = ""
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    schedule.refresh_from_db()
    assert (schedule.is_paused, schedule.paused_by) == (True, admin_user)
    assert schedule.paused_reason == "maintenance"
    assert schedule.next_run_at is None


def test_a_row_with_a_zone_unknown_to_this_machine_still_renders(
    admin_client: Client, make_schedule: Make
) -> None:
    schedule = _future(make_schedule)
    Schedule.objects.filter(pk=schedule.pk).update(time_zone="Gone/Away")
    assert admin_client.get(reverse(CHANGELIST)).status_code == 200
    url = reverse("admin:schedules_schedule_change", args=[schedule.pk])
    response = admin_client.get(url)
    assert response.status_code == 200
    assert "unknown time zone" in response.content.decode()
