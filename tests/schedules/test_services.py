"""Schedule services: create, update, delete, pause, resume and tags."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from schedules.models import Schedule
from schedules.services import (
    schedule_create,
    schedule_delete,
    schedule_pause,
    schedule_pause_all,
    schedule_resume,
    schedule_resume_all,
    schedule_tag_remove,
    schedule_tags_replace,
    schedule_update,
)
from tests.schedules.factories import NOW, definition

pytestmark = pytest.mark.django_db
Make = Callable[..., Schedule]
BERLIN_0230_MARCH_31 = datetime(2025, 3, 31, 0, 30, tzinfo=UTC)  # 02:30 CEST


def _errors(data: dict[str, Any], *, now: datetime = NOW) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        schedule_create(data=data, by=None, now=now)
    return caught.value.message_dict


# --- create ---------------------------------------------------------------------------
def test_create_records_who_when_and_the_first_fire_in_the_schedule_zone(
    make_schedule: Make, admin_user: Any
) -> None:
    schedule = make_schedule(by=admin_user, tags={"team": "billing"})
    schedule.refresh_from_db()
    # 02:30 Berlin does not exist on 30 March; the default promise shifts it to 03:00
    # CEST = 01:00 UTC.
    assert schedule.next_run_at == datetime(2025, 3, 30, 1, 0, tzinfo=UTC)
    assert schedule.cron_dialect == "unix"
    assert schedule.created_at == NOW
    assert schedule.created_by == admin_user
    assert schedule.updated_by == admin_user
    assert dict(schedule.tags.values_list("key", "value")) == {"team": "billing"}


@pytest.mark.parametrize(
    ("expression", "dialect"),
    [
        ("*/5 * * * *", "unix"),
        ("0 30 2 * * MON-FRI", "spring"),
        ("0 30 2 ? * MON-FRI 2030", "quartz"),
        ("@daily", "unix"),
    ],
)
def test_create_detects_and_records_the_cron_dialect(
    make_schedule: Make, expression: str, dialect: str
) -> None:
    assert make_schedule(cron_expression=expression).cron_dialect == dialect


def test_create_can_start_paused_with_no_next_run(make_schedule: Make) -> None:
    schedule = make_schedule(is_paused=True, paused_reason="not yet")
    assert schedule.is_paused
    assert schedule.paused_reason == "not yet"
    assert schedule.next_run_at is None


def test_one_time_naive_run_at_is_read_in_the_schedule_zone(
    make_schedule: Make,
) -> None:
    schedule = make_schedule(
        kind="one_time", cron_expression="", run_at="2025-04-01T09:00:00"
    )
    assert schedule.run_at == datetime(2025, 4, 1, 7, 0, tzinfo=UTC)
    assert schedule.next_run_at == schedule.run_at


def test_one_time_aware_run_at_is_kept_as_the_instant(make_schedule: Make) -> None:
    schedule = make_schedule(
        kind="one_time", cron_expression="", run_at="2025-04-01T09:00:00+00:00"
    )
    assert schedule.run_at == datetime(2025, 4, 1, 9, 0, tzinfo=UTC)


def test_one_time_naive_run_at_in_a_fold_means_the_first_occurrence(
    make_schedule: Make,
) -> None:
    schedule = make_schedule(
        kind="one_time", cron_expression="", run_at=datetime(2025, 10, 26, 2, 30)
    )
    assert schedule.run_at == datetime(2025, 10, 26, 0, 30, tzinfo=UTC)  # CEST


def test_one_time_naive_run_at_in_the_spring_gap_is_refused_naming_the_gap() -> None:
    errors = _errors(
        definition(kind="one_time", cron_expression="", run_at="2025-03-30T02:30")
    )
    assert errors["run_at"] == [
        "2025-03-30 02:30 does not exist in Europe/Berlin: the clocks jump forward "
        "that night (UTC+01:00 to UTC+02:00); pick a time outside the gap or give "
        "the instant with an explicit UTC offset"
    ]


def test_one_time_in_the_past_is_refused() -> None:
    errors = _errors(
        definition(kind="one_time", cron_expression="", run_at="2025-03-01T09:00Z")
    )
    assert "is not in the future" in errors["run_at"][0]


def test_interval_with_repeats_schedules_from_start(make_schedule: Make) -> None:
    start = NOW + timedelta(hours=1)
    schedule = make_schedule(
        kind="interval",
        cron_expression="",
        interval_hours=2,
        interval_minutes=30,
        repeats=10,
        start_at=start,
    )
    assert schedule.next_run_at == start
    assert schedule.repeats == 10
    last = start + 9 * timedelta(hours=2, minutes=30)
    fire = schedule.next_fire_after(last - timedelta(seconds=1))
    assert fire is not None
    assert fire.at == last
    assert schedule.next_fire_after(last) is None


# --- validation messages --------------------------------------------------------------
def test_a_name_with_spaces_is_refused_with_the_allowed_characters() -> None:
    errors = _errors(definition(name="nightly report"))
    assert errors["name"] == [
        "use only letters, digits, underscore, dot and hyphen (no spaces), "
        "for example 'nightly-report.v2'"
    ]


def test_a_taken_name_is_refused(make_schedule: Make) -> None:
    make_schedule()
    assert "already exists" in _errors(definition())["name"][0]


def test_an_unknown_time_zone_is_named_with_a_suggestion() -> None:
    errors = _errors(definition(time_zone="Europe/Berln"))
    assert errors["time_zone"] == [
        "unknown time zone 'Europe/Berln'; did you mean 'Europe/Berlin'?"
    ]


def test_a_bad_zone_and_a_bad_cron_are_both_reported() -> None:
    errors = _errors(definition(time_zone="Mars/Base", cron_expression="0 0 30 2 *"))
    assert set(errors) == {"time_zone", "cron_expression"}


def test_30_february_is_refused_because_it_never_fires() -> None:
    errors = _errors(definition(cron_expression="0 0 30 2 *"))
    assert errors["cron_expression"] == ["this expression never fires (30 February)"]


def test_a_cron_with_the_wrong_number_of_fields_teaches_the_dialects() -> None:
    errors = _errors(definition(cron_expression="0 0 * *"))
    assert errors["cron_expression"][0].startswith("cron needs 5 fields (Unix)")


def test_a_cron_value_out_of_range_names_the_field() -> None:
    errors = _errors(definition(cron_expression="61 * * * *"))
    assert "minute" in errors["cron_expression"][0]


def test_an_interval_of_zero_asks_for_a_positive_part() -> None:
    errors = _errors(definition(kind="interval", cron_expression=""))
    assert errors["interval"] == [
        "an interval needs at least one positive part: weeks, days, hours, "
        "minutes or seconds"
    ]


def test_zero_repeats_is_refused() -> None:
    errors = _errors(
        definition(kind="interval", cron_expression="", interval_hours=1, repeats=0)
    )
    assert errors["repeats"] == ["repeats must be at least 1, got 0"]


def test_end_before_start_is_refused_on_end_at() -> None:
    errors = _errors(
        definition(start_at="2025-05-01T00:00Z", end_at="2025-04-01T00:00Z")
    )
    assert errors["end_at"][0].startswith("end_at (2025-04-01T00:00:00+00:00) must")


def test_input_must_be_a_json_object() -> None:
    errors = _errors(definition(input=[1, 2]))
    assert errors["input"][0].startswith("input must be a JSON object")


def test_priority_outside_0_to_99_is_refused() -> None:
    assert "priority" in _errors(definition(priority=100))
    assert _errors(definition(priority=-1))["priority"] == [
        "priority must be between 0 and 99, got -1"
    ]


def test_an_unknown_target_is_refused() -> None:
    errors = _errors(definition(target="reports.nigthly"))
    assert errors["target"][0] == (
        "no service or component action is registered as 'reports.nigthly'"
    )


def test_an_unknown_target_is_checked_against_the_real_registry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.undo()
    errors = _errors(definition(target="no.such.service.anywhere"))
    assert "no.such.service.anywhere" in errors["target"][0]


def test_unknown_fields_are_refused_by_name() -> None:
    errors = _errors(definition(cronExpression="* * * * *"))
    assert "cronExpression" in errors


def test_several_mistakes_are_reported_together() -> None:
    errors = _errors(definition(name="a b", target="", input="x", priority=500))
    assert {"name", "target", "input", "priority"} <= set(errors)


# --- update ---------------------------------------------------------------------------
def test_a_partial_update_changes_only_what_is_given(make_schedule: Make) -> None:
    schedule = make_schedule(description="old")
    later = NOW + timedelta(days=3)  # past the first fire: next_run_at must not move
    updated = schedule_update(
        schedule=schedule, data={"description": "new"}, by=None, now=later
    )
    updated.refresh_from_db()
    assert updated.description == "new"
    assert updated.next_run_at == schedule.next_run_at
    assert updated.updated_at == later


def test_changing_the_cron_recomputes_next_run_after_now(make_schedule: Make) -> None:
    schedule = make_schedule()
    updated = schedule_update(
        schedule=schedule,
        data={"cron_expression": "0 0 12 * * *"},
        by=None,
        now=NOW,
    )
    assert updated.cron_dialect == "spring"
    assert updated.next_run_at == datetime(2025, 3, 29, 11, 0, tzinfo=UTC)


def test_changing_kind_clears_the_old_kinds_fields(make_schedule: Make) -> None:
    schedule = make_schedule()
    updated = schedule_update(
        schedule=schedule,
        data={"kind": "interval", "interval_minutes": 10},
        by=None,
        now=NOW,
    )
    updated.refresh_from_db()
    assert (updated.cron_expression, updated.cron_dialect) == ("", "")
    assert updated.next_run_at == NOW + timedelta(minutes=10) - (
        NOW - updated.created_at
    )


def test_an_invalid_update_changes_nothing(make_schedule: Make) -> None:
    schedule = make_schedule()
    with pytest.raises(ValidationError):
        schedule_update(
            schedule=schedule, data={"cron_expression": "nope"}, by=None, now=NOW
        )
    schedule.refresh_from_db()
    assert schedule.cron_expression == "30 2 * * *"


def test_renaming_onto_another_schedules_name_is_refused(make_schedule: Make) -> None:
    make_schedule(name="taken")
    schedule = make_schedule(name="mine")
    with pytest.raises(ValidationError) as caught:
        schedule_update(schedule=schedule, data={"name": "taken"}, by=None, now=NOW)
    assert "name" in caught.value.message_dict


def test_update_can_pause_and_resume(make_schedule: Make) -> None:
    schedule = make_schedule()
    paused = schedule_update(
        schedule=schedule,
        data={"is_paused": True, "paused_reason": "maintenance"},
        by=None,
        now=NOW,
    )
    assert (paused.is_paused, paused.next_run_at) == (True, None)
    resumed = schedule_update(
        schedule=paused, data={"is_paused": False}, by=None, now=NOW + timedelta(days=2)
    )
    assert not resumed.is_paused
    assert resumed.next_run_at == BERLIN_0230_MARCH_31 + timedelta(days=1)


def test_update_replaces_tags_when_given(make_schedule: Make) -> None:
    schedule = make_schedule(tags={"a": "1"})
    schedule_update(schedule=schedule, data={"tags": {"b": "2"}}, by=None, now=NOW)
    assert dict(schedule.tags.values_list("key", "value")) == {"b": "2"}


# --- delete ---------------------------------------------------------------------------
def test_delete_removes_the_schedule_and_its_tags(make_schedule: Make) -> None:
    schedule = make_schedule(tags={"a": "1"})
    schedule_delete(schedule=schedule, by=None)
    assert not Schedule.objects.exists()


@pytest.mark.requires_postgres
@pytest.mark.django_db(transaction=True)
def test_delete_waits_for_a_dispatcher_making_a_run_and_keeps_that_run(
    make_schedule: Make,
) -> None:
    from django.db import connection, transaction

    from jobruns.models import JobRun

    schedule = make_schedule()
    locked, release = threading.Event(), threading.Event()

    def dispatcher_inserting_a_run() -> None:
        try:
            with transaction.atomic():
                Schedule.objects.select_for_update().get(pk=schedule.pk)
                locked.set()
                JobRun.objects.create(
                    schedule=schedule, schedule_name=schedule.name,
                    service=schedule.target, trigger="scheduled",
                    scheduled_for=NOW, queued_at=NOW, time_limit_seconds=60,
                )  # fmt: skip
                release.wait(5)
        finally:
            connection.close()

    thread = threading.Thread(target=dispatcher_inserting_a_run)
    thread.start()
    assert locked.wait(5)
    threading.Timer(0.3, release.set).start()

    schedule_delete(schedule=schedule, by=None)
    thread.join(5)

    assert not Schedule.objects.exists()
    run = JobRun.objects.get()
    assert (run.schedule_id, run.schedule_name) == (None, schedule.name)


@pytest.mark.requires_postgres
@pytest.mark.django_db(transaction=True)
def test_delete_and_a_worker_ending_the_schedules_run_do_not_deadlock(
    make_schedule: Make,
) -> None:
    from django.db import connection, transaction
    from django.db.models import F

    from jobruns.models import JobRun

    schedule = make_schedule()
    run = JobRun.objects.create(
        schedule=schedule, schedule_name=schedule.name, service=schedule.target,
        trigger="scheduled", scheduled_for=NOW, queued_at=NOW, time_limit_seconds=60,
        status="in_progress",
    )  # fmt: skip
    locked, release = threading.Event(), threading.Event()
    errors: list[Exception] = []

    def worker_ending_the_run() -> None:
        # As jobrun_finish does: the run first, then its counters on the schedule.
        try:
            with transaction.atomic():
                JobRun.objects.filter(pk=run.pk).update(status="succeeded")
                locked.set()
                release.wait(5)
                Schedule.objects.filter(pk=schedule.pk).update(
                    run_count=F("run_count") + 1
                )
        except Exception as exc:  # the test reports what the worker met
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=worker_ending_the_run)
    thread.start()
    assert locked.wait(5)
    threading.Timer(0.5, release.set).start()

    schedule_delete(schedule=schedule, by=None)
    thread.join(10)

    assert errors == []
    run.refresh_from_db()
    assert (run.status, run.schedule_id) == ("succeeded", None)
    assert not Schedule.objects.exists()


# --- pause / resume -------------------------------------------------------------------
def test_pause_records_who_why_and_when_and_clears_the_next_run(
    make_schedule: Make, admin_user: Any
) -> None:
    schedule = make_schedule()
    assert schedule_pause(
        schedule=schedule, by=admin_user, reason="db upgrade", now=NOW
    )
    schedule.refresh_from_db()
    assert schedule.is_paused
    assert (schedule.paused_reason, schedule.paused_by) == ("db upgrade", admin_user)
    assert schedule.paused_at == NOW
    assert schedule.next_run_at is None


def test_pausing_a_paused_schedule_changes_nothing(make_schedule: Make) -> None:
    schedule = make_schedule()
    schedule_pause(schedule=schedule, by=None, reason="first", now=NOW)
    assert not schedule_pause(schedule=schedule, by=None, reason="second", now=NOW)
    assert schedule.paused_reason == "first"


def test_resume_skips_the_fires_missed_while_paused(make_schedule: Make) -> None:
    schedule = make_schedule()
    schedule_pause(schedule=schedule, by=None, now=NOW)
    back = datetime(2025, 4, 2, 12, 0, tzinfo=UTC)  # three 02:30 fires missed
    assert schedule_resume(schedule=schedule, by=None, now=back)
    assert not schedule.is_paused
    assert schedule.paused_reason == ""
    assert schedule.next_run_at == datetime(2025, 4, 3, 0, 30, tzinfo=UTC)


def test_resume_after_a_one_time_run_at_leaves_it_finished(make_schedule: Make) -> None:
    run_at = NOW + timedelta(hours=1)
    schedule = make_schedule(kind="one_time", cron_expression="", run_at=run_at)
    schedule_pause(schedule=schedule, by=None, now=NOW)
    schedule_resume(schedule=schedule, by=None, now=run_at + timedelta(minutes=1))
    assert schedule.next_run_at is None
    assert schedule.is_finished


def test_resuming_an_active_schedule_reports_false(make_schedule: Make) -> None:
    assert not schedule_resume(schedule=make_schedule(), by=None, now=NOW)


def test_pause_all_and_resume_all_report_how_many_changed(make_schedule: Make) -> None:
    for name in ("a", "b", "c"):
        make_schedule(name=name)
    schedule_pause(schedule=Schedule.objects.get(name="a"), by=None, now=NOW)
    assert schedule_pause_all(by=None, reason="freeze", now=NOW) == 2
    assert set(Schedule.objects.values_list("paused_reason", flat=True)) == {
        "",
        "freeze",
    }
    assert schedule_resume_all(by=None, now=NOW) == 3
    assert not Schedule.objects.filter(next_run_at__isnull=True).exists()


def test_pause_all_can_be_limited_to_a_queryset(make_schedule: Make) -> None:
    make_schedule(name="a")
    make_schedule(name="b")
    only_a = Schedule.objects.filter(name="a")
    assert schedule_pause_all(by=None, now=NOW, queryset=only_a) == 1
    assert list(
        Schedule.objects.filter(is_paused=True).values_list("name", flat=True)
    ) == ["a"]


# --- tags -----------------------------------------------------------------------------
def test_tags_replace_accepts_a_mapping_or_conductor_style_items(
    make_schedule: Make,
) -> None:
    schedule = make_schedule(tags={"old": "x"})
    schedule_tags_replace(
        schedule=schedule,
        tags=[{"key": "team", "value": "billing", "type": "METADATA"}],
        by=None,
        now=NOW,
    )
    assert dict(schedule.tags.values_list("key", "value")) == {"team": "billing"}


def test_tags_replace_refuses_an_empty_key(make_schedule: Make) -> None:
    with pytest.raises(ValidationError) as caught:
        schedule_tags_replace(
            schedule=make_schedule(), tags={" ": "x"}, by=None, now=NOW
        )
    assert "tags" in caught.value.message_dict


def test_tag_remove_removes_one_key_and_reports_it(make_schedule: Make) -> None:
    schedule = make_schedule(tags={"a": "1", "b": "2"})
    assert schedule_tag_remove(schedule=schedule, key="a", by=None, now=NOW)
    assert not schedule_tag_remove(
        schedule=schedule, key="b", value="9", by=None, now=NOW
    )
    assert list(schedule.tags.values_list("key", flat=True)) == ["b"]


@pytest.mark.parametrize("field", ["start_at", "end_at"])
def test_dates_outside_the_supported_years_are_field_errors(
    now: datetime, field: str
) -> None:
    data = definition(**{field: datetime(1, 1, 2, tzinfo=UTC)})
    with pytest.raises(ValidationError) as info:
        schedule_create(data=data, by=None, now=now)
    assert f"{field} must be between 1900-01-01 and 9999-12-30" in str(
        info.value.message_dict[field]
    )


def test_a_nul_character_in_the_input_or_extra_is_a_field_error(now: datetime) -> None:
    data = definition(input={"x": "a\x00"}, extra="b\x00")
    with pytest.raises(ValidationError) as info:
        schedule_create(data=data, by=None, now=now)
    assert "NUL character" in info.value.message_dict["input"][0]
    assert "NUL character" in info.value.message_dict["extra"][0]
