"""Next-runs preview: UTC, schedule zone, viewer zone, DST flags, descriptions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError

from schedules.models import Schedule
from schedules.services import schedule_preview
from tests.schedules.factories import NOW, definition

pytestmark = pytest.mark.django_db
Make = Callable[..., Schedule]


def test_preview_of_a_saved_schedule_flags_the_spring_forward_shift(
    make_schedule: Make,
) -> None:
    preview = schedule_preview(
        schedule=make_schedule(), count=3, viewer_zone="America/New_York", now=NOW
    )
    assert preview.description == "At 02:30 (Europe/Berlin)"
    assert [fire.as_dict() for fire in preview.fires] == [
        {
            "utc": "2025-03-30T01:00:00+00:00",
            "schedule_zone": "2025-03-30T03:00:00+02:00",
            "viewer_zone": "2025-03-29T21:00:00-04:00",
            "schedule_zone_abbreviation": "CEST",
            "viewer_zone_abbreviation": "EDT",
            "dst": "shifted",
        },
        {
            "utc": "2025-03-31T00:30:00+00:00",
            "schedule_zone": "2025-03-31T02:30:00+02:00",
            "viewer_zone": "2025-03-30T20:30:00-04:00",
            "schedule_zone_abbreviation": "CEST",
            "viewer_zone_abbreviation": "EDT",
            "dst": None,
        },
        {
            "utc": "2025-04-01T00:30:00+00:00",
            "schedule_zone": "2025-04-01T02:30:00+02:00",
            "viewer_zone": "2025-03-31T20:30:00-04:00",
            "schedule_zone_abbreviation": "CEST",
            "viewer_zone_abbreviation": "EDT",
            "dst": None,
        },
    ]


def test_preview_of_a_definition_flags_the_repeated_fall_back_fire() -> None:
    preview = schedule_preview(
        definition=definition(dst_fold="both"),
        count=2,
        after=datetime(2025, 10, 25, 12, 0, tzinfo=UTC),
        now=NOW,
    )
    assert [(fire.utc, fire.dst) for fire in preview.fires] == [
        (datetime(2025, 10, 26, 0, 30, tzinfo=UTC), None),
        (datetime(2025, 10, 26, 1, 30, tzinfo=UTC), "repeated"),
    ]
    assert [fire.schedule_zone.isoformat() for fire in preview.fires] == [
        "2025-10-26T02:30:00+02:00",
        "2025-10-26T02:30:00+01:00",
    ]


def test_preview_of_a_definition_skips_the_gap_when_told() -> None:
    preview = schedule_preview(definition=definition(dst_gap="skip"), count=1, now=NOW)
    assert preview.fires[0].utc == datetime(2025, 3, 31, 0, 30, tzinfo=UTC)


def test_preview_of_a_definition_needs_no_name_or_target() -> None:
    preview = schedule_preview(
        definition={
            "kind": "interval",
            "interval_hours": 2,
            "interval_minutes": 30,
            "repeats": 10,
        },
        now=NOW,
    )
    assert preview.description == "every 2 hours 30 minutes, 10 times"
    assert preview.fires[0].utc == datetime(2025, 3, 29, 11, 30, tzinfo=UTC)
    assert len(preview.fires) == 5


def test_preview_of_a_definition_applied_to_a_saved_schedule(
    make_schedule: Make,
) -> None:
    preview = schedule_preview(
        schedule=make_schedule(),
        definition={"cron_expression": "0 12 * * *"},
        count=1,
        now=NOW,
    )
    assert preview.fires[0].utc == datetime(2025, 3, 29, 11, 0, tzinfo=UTC)


def test_preview_of_a_one_time_schedule_has_one_fire_in_its_zone(
    make_schedule: Make,
) -> None:
    schedule = make_schedule(
        kind="one_time", cron_expression="", run_at="2025-04-01T09:00"
    )
    preview = schedule_preview(schedule=schedule, now=NOW)
    assert preview.description == "once at 2025-04-01 09:00 (Europe/Berlin)"
    assert len(preview.fires) == 1


def test_preview_stops_at_end_at(make_schedule: Make) -> None:
    schedule = make_schedule(end_at="2025-04-01T00:00:00+00:00")
    assert len(schedule_preview(schedule=schedule, count=10, now=NOW).fires) == 2


def test_preview_of_a_bad_definition_raises_field_errors() -> None:
    with pytest.raises(ValidationError) as caught:
        schedule_preview(definition=definition(cron_expression="0 0 30 2 *"), now=NOW)
    assert "cron_expression" in caught.value.message_dict


def test_preview_refuses_an_unknown_viewer_zone_and_a_silly_count(
    make_schedule: Make,
) -> None:
    schedule = make_schedule()
    with pytest.raises(ValidationError) as caught:
        schedule_preview(schedule=schedule, viewer_zone="Moon/Base", now=NOW)
    assert caught.value.message_dict == {
        "viewer_zone": ["unknown time zone 'Moon/Base'"]
    }
    with pytest.raises(ValidationError):
        schedule_preview(schedule=schedule, count=0, now=NOW)
