"""OpenSpecimen repeat schedules and dates, mapped onto ours and back (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from compat.openspecimen import mapping

NEW_YORK = ZoneInfo("America/New_York")


def _round_trip(detail: dict[str, Any]) -> mapping.Repeat:
    repeat = mapping.repeat_from_detail(detail)
    fields = mapping.timing_fields(repeat)
    minutes = fields.get("interval_minutes", 0)
    return mapping.repeat_from_schedule(
        kind=fields["kind"],
        run_at=fields.get("run_at"),
        cron_expression=fields.get("cron_expression", ""),
        interval=timedelta(minutes=minutes),
        repeats=None,
    )


@pytest.mark.parametrize(
    ("detail", "ours"),
    [
        (
            {"repeatSchedule": "MINUTELY", "minutelyInterval": 15},
            {"kind": "interval", "interval_minutes": 15},
        ),
        (
            {"repeatSchedule": "HOURLY", "scheduledMinute": 5},
            {"kind": "cron", "cron_expression": "5 * * * *"},
        ),
        (
            {"repeatSchedule": "HOURLY", "scheduledMinute": 5, "hourlyInterval": 6},
            {"kind": "cron", "cron_expression": "5 */6 * * *"},
        ),
        (
            {"repeatSchedule": "DAILY", "scheduledHour": 2, "scheduledMinute": 30},
            {"kind": "cron", "cron_expression": "30 2 * * *"},
        ),
        (
            {
                "repeatSchedule": "WEEKLY",
                "scheduledDayOfWeek": "SATURDAY",
                "scheduledHour": 23,
                "scheduledMinute": 0,
            },
            {"kind": "cron", "cron_expression": "0 23 * * 6"},
        ),
        (
            {
                "repeatSchedule": "MONTHLY",
                "scheduledDayOfMonth": 31,
                "scheduledHour": 0,
                "scheduledMinute": 59,
            },
            {"kind": "cron", "cron_expression": "59 0 31 * *"},
        ),
        (
            {"repeatSchedule": "ONDEMAND"},
            {"kind": "one_time", "run_at": mapping.ONDEMAND_RUN_AT},
        ),
    ],
)
def test_each_repeat_schedule_maps_onto_our_kinds_and_back_unchanged(
    detail: dict[str, Any], ours: dict[str, Any]
) -> None:
    repeat = mapping.repeat_from_detail(detail)

    assert mapping.timing_fields(repeat) == ours
    assert _round_trip(detail) == repeat
    sent = {key: value for key, value in detail.items() if value is not None}
    shown = {key: value for key, value in repeat.as_detail().items() if key in sent}
    assert shown == sent


def test_minutely_defaults_to_one_minute_and_forces_minute_zero() -> None:
    repeat = mapping.repeat_from_detail({"repeatSchedule": "MINUTELY"})

    assert repeat.minutely_interval == 1
    assert repeat.minute == 0
    assert mapping.repeat_from_detail(
        {"repeatSchedule": "MINUTELY", "minutelyInterval": 0}
    ) == mapping.repeat_from_detail({"repeatSchedule": "MINUTELY"})


@pytest.mark.parametrize(
    ("detail", "code"),
    [
        ({}, "REPEAT_SCHEDULE_REQUIRED"),
        ({"repeatSchedule": "YEARLY"}, "INVALID_REPEAT_SCHEDULE"),
        ({"repeatSchedule": "DAILY", "scheduledMinute": 0}, "INVALID_SCHEDULED_TIME"),
        (
            {"repeatSchedule": "DAILY", "scheduledHour": 24, "scheduledMinute": 0},
            "INVALID_SCHEDULED_TIME",
        ),
        ({"repeatSchedule": "HOURLY", "scheduledMinute": 60}, "INVALID_SCHEDULED_TIME"),
        (
            {"repeatSchedule": "HOURLY", "scheduledMinute": 0, "hourlyInterval": 0},
            "INVALID_SCHEDULED_TIME",
        ),
        (
            {
                "repeatSchedule": "WEEKLY",
                "scheduledHour": 1,
                "scheduledMinute": 0,
                "scheduledDayOfWeek": "FUNDAY",
            },
            "INVALID_SCHEDULED_TIME",
        ),
        (
            {
                "repeatSchedule": "MONTHLY",
                "scheduledHour": 1,
                "scheduledMinute": 0,
                "scheduledDayOfMonth": 32,
            },
            "INVALID_SCHEDULED_TIME",
        ),
    ],
)
def test_bad_repeat_fields_carry_open_specimens_codes(
    detail: dict[str, Any], code: str
) -> None:
    with pytest.raises(mapping.MappingError) as raised:
        mapping.repeat_from_detail(detail)

    assert raised.value.code == code


@pytest.mark.parametrize(
    ("kind", "cron", "minutes", "repeats"),
    [
        ("cron", "0 9 * * 1-5", 0, None),  # a range OpenSpecimen cannot say
        ("cron", "0 9 1 * 1", 0, None),  # day of month and of week
        ("cron", "*/5 * * * *", 0, None),
        ("interval", "", 1.5, None),  # 90 seconds
        ("interval", "", 10, 3),  # a limited number of repeats
    ],
)
def test_schedules_open_specimen_cannot_express_have_no_repeat_schedule(
    kind: str, cron: str, minutes: float, repeats: int | None
) -> None:
    repeat = mapping.repeat_from_schedule(
        kind=kind,
        run_at=None,
        cron_expression=cron,
        interval=timedelta(minutes=minutes),
        repeats=repeats,
    )

    assert repeat == mapping.NO_REPEAT


def test_a_real_one_time_schedule_is_not_on_demand() -> None:
    repeat = mapping.repeat_from_schedule(
        kind="one_time",
        run_at=datetime(2031, 1, 1, tzinfo=UTC),
        cron_expression="",
        interval=timedelta(0),
        repeats=None,
    )

    assert repeat == mapping.NO_REPEAT


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        # The wiki's forms, zone-less: read in the user's zone (UTC-5 in February).
        ("20220221", datetime(2022, 2, 21, 5, 0, tzinfo=UTC)),
        ("20220221T061500", datetime(2022, 2, 21, 11, 15, tzinfo=UTC)),
        # The controller's @DateTimeFormat, zone-less too.
        ("2022-02-21 06:15", datetime(2022, 2, 21, 11, 15, tzinfo=UTC)),
        # The newest controller's ISO fallback, with its own offset.
        ("2022-02-21T06:15:00.000Z", datetime(2022, 2, 21, 6, 15, tzinfo=UTC)),
        ("2022-02-21T06:15:00.000+0530", datetime(2022, 2, 21, 0, 45, tzinfo=UTC)),
        ("2022-02-21T06:15:00+01:00", datetime(2022, 2, 21, 5, 15, tzinfo=UTC)),
        # ISO without an offset is zone-less as well.
        ("2022-02-21T06:15:00", datetime(2022, 2, 21, 11, 15, tzinfo=UTC)),
        # JSON dates: epoch milliseconds.
        (1645424100000, datetime(2022, 2, 21, 6, 15, tzinfo=UTC)),
        ("1645424100000", datetime(2022, 2, 21, 6, 15, tzinfo=UTC)),
    ],
)
def test_every_accepted_date_form_parses_to_the_right_instant(
    text: Any, instant: datetime
) -> None:
    assert mapping.parse_date(text, NEW_YORK) == instant


def test_zone_less_dates_follow_daylight_saving_time_in_the_users_zone() -> None:
    summer = mapping.parse_date("20220721", NEW_YORK)

    assert summer == datetime(2022, 7, 21, 4, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    ["", "yesterday", "2022-13-01 00:00", "20221301", "2022/02/21", True, None, 1e30],
)
def test_anything_else_is_not_a_date(text: Any) -> None:
    with pytest.raises(ValueError):
        mapping.parse_date(text, NEW_YORK)


def test_dates_are_written_as_epoch_milliseconds() -> None:
    assert mapping.to_millis(datetime(2022, 2, 21, 6, 15, tzinfo=UTC)) == 1645424100000
    assert mapping.to_millis(None) is None
