"""Interval and one-time triggers, bounds, and describe()."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schedules.timing import (
    CronExpression,
    CronTrigger,
    Dialect,
    IntervalTrigger,
    OneTimeTrigger,
    TimingError,
    cron_trigger,
    describe,
    fires_in_interval_count,
    interval_from_parts,
    load_zone,
    next_fire,
    next_fires,
)

BERLIN = load_zone("Europe/Berlin")
START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def fire_at(trigger: IntervalTrigger | OneTimeTrigger, after: datetime) -> datetime:
    fire = next_fire(trigger, after=after)
    assert fire is not None
    return fire.at


# --- interval grid ---


def test_interval_fires_at_start_then_on_its_grid() -> None:
    trigger = IntervalTrigger(START, timedelta(minutes=90))
    fires = next_fires(trigger, after=START - timedelta(days=1), count=3)
    assert [fire.at for fire in fires] == [
        at("2026-01-01T09:00"),
        at("2026-01-01T10:30"),
        at("2026-01-01T12:00"),
    ]


def test_interval_fire_is_strictly_after_the_instant_asked_about() -> None:
    trigger = IntervalTrigger(START, timedelta(hours=1))
    assert fire_at(trigger, START) == at("2026-01-01T10:00")


def test_interval_has_no_drift_after_a_million_periods() -> None:
    trigger = IntervalTrigger(START, timedelta(seconds=7, microseconds=3))
    far = START + 1_000_000 * timedelta(seconds=7, microseconds=3)
    assert fire_at(trigger, far - timedelta(microseconds=1)) == far


def test_after_long_downtime_the_next_grid_point_is_returned_not_a_pile_up() -> None:
    trigger = IntervalTrigger(START, timedelta(minutes=10))
    back_online = at("2026-01-03T17:43:12")
    assert fire_at(trigger, back_online) == at("2026-01-03T17:50")


def test_interval_repeats_finish_after_the_last_fire() -> None:
    trigger = IntervalTrigger(START, timedelta(hours=1), repeats=3)
    fires = next_fires(trigger, after=START - timedelta(seconds=1), count=10)
    assert [fire.at for fire in fires] == [
        at("2026-01-01T09:00"),
        at("2026-01-01T10:00"),
        at("2026-01-01T11:00"),
    ]
    assert next_fire(trigger, after=at("2026-01-01T11:00")) is None


def test_interval_counts_elapsed_time_across_the_berlin_nights() -> None:
    local_start = datetime(2026, 3, 28, 23, 0, tzinfo=BERLIN)
    trigger = IntervalTrigger(local_start, timedelta(hours=1))
    fires = next_fires(trigger, after=local_start, count=4)
    assert [fire.at for fire in fires] == [
        at("2026-03-28T23:00"),  # 00:00 CET
        at("2026-03-29T00:00"),  # 01:00 CET
        at("2026-03-29T01:00"),  # 03:00 CEST: the wall clock jumped, time did not
        at("2026-03-29T02:00"),
    ]
    daily = IntervalTrigger(
        datetime(2026, 10, 24, 12, 0, tzinfo=BERLIN), timedelta(days=1)
    )
    fire = next_fire(daily, after=at("2026-10-24T11:00"))
    assert fire is not None
    assert fire.at.astimezone(BERLIN).hour == 11  # 24 hours, not "same wall time"


def test_interval_start_bound_later_than_the_trigger_start_snaps_to_the_grid() -> None:
    trigger = IntervalTrigger(START, timedelta(minutes=15))
    fire = next_fire(trigger, after=START, start=at("2026-01-01T10:05"))
    assert fire is not None
    assert fire.at == at("2026-01-01T10:15")


def test_bounds_are_inclusive_at_both_ends() -> None:
    trigger = IntervalTrigger(START, timedelta(minutes=15))
    first = next_fire(
        trigger, after=START - timedelta(days=1), start=at("2026-01-01T09:30")
    )
    assert first is not None
    assert first.at == at("2026-01-01T09:30")
    fires = next_fires(trigger, after=START, count=10, end=at("2026-01-01T09:45"))
    assert [fire.at for fire in fires] == [
        at("2026-01-01T09:15"),
        at("2026-01-01T09:30"),
        at("2026-01-01T09:45"),
    ]


def test_next_fires_stops_at_until_and_at_end_whichever_is_first() -> None:
    trigger = IntervalTrigger(START, timedelta(hours=1))
    fires = next_fires(
        trigger,
        after=START,
        count=10,
        end=at("2026-01-01T15:00"),
        until=at("2026-01-01T11:00"),
    )
    assert [fire.at for fire in fires] == [
        at("2026-01-01T10:00"),
        at("2026-01-01T11:00"),
    ]


def test_fires_in_interval_count_counts_fires_at_or_before_upto() -> None:
    trigger = IntervalTrigger(START, timedelta(hours=1), repeats=5)
    assert fires_in_interval_count(trigger, upto=START - timedelta(seconds=1)) == 0
    assert fires_in_interval_count(trigger, upto=START) == 1
    assert fires_in_interval_count(trigger, upto=at("2026-01-01T11:30")) == 3
    assert fires_in_interval_count(trigger, upto=at("2026-02-01T00:00")) == 5


def test_interval_trigger_refuses_non_positive_intervals_and_repeats() -> None:
    with pytest.raises(TimingError) as caught:
        IntervalTrigger(START, timedelta(0))
    assert caught.value.field == "interval"
    with pytest.raises(TimingError) as caught:
        IntervalTrigger(START, timedelta(hours=1), repeats=0)
    assert (caught.value.field, caught.value.message) == (
        "repeats",
        "repeats must be at least 1, got 0",
    )


def test_interval_trigger_refuses_a_naive_start() -> None:
    with pytest.raises(TypeError):
        IntervalTrigger(datetime(2026, 1, 1), timedelta(hours=1))


def test_interval_from_parts_adds_the_parts() -> None:
    assert interval_from_parts(
        weeks=1, days=1, hours=2, minutes=3, seconds=4
    ) == timedelta(days=8, hours=2, minutes=3, seconds=4)


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        ({}, "an interval needs at least one positive part: weeks, days, hours, "
             "minutes or seconds"),
        ({"hours": 0, "minutes": 0}, "an interval needs at least one positive part: "
                                     "weeks, days, hours, minutes or seconds"),
        ({"hours": -1}, "interval parts cannot be negative (hours=-1)"),
    ],
)  # fmt: skip
def test_interval_from_parts_refuses_zero_and_negative(
    parts: dict[str, int], message: str
) -> None:
    with pytest.raises(TimingError) as caught:
        interval_from_parts(**parts)
    assert (caught.value.field, caught.value.message) == ("interval", message)


# --- one-time ---


def test_one_time_fires_once_when_strictly_after() -> None:
    trigger = OneTimeTrigger(datetime(2026, 3, 29, 3, 30, tzinfo=BERLIN))
    assert fire_at(trigger, START) == at("2026-03-29T01:30")
    assert next_fire(trigger, after=at("2026-03-29T01:30")) is None


def test_one_time_outside_the_bounds_does_not_fire() -> None:
    trigger = OneTimeTrigger(at("2026-05-01T00:00"))
    assert next_fire(trigger, after=START, end=at("2026-04-30T23:59")) is None
    assert next_fire(trigger, after=START, start=at("2026-05-01T00:01")) is None


def test_cron_bounds_apply_on_top_of_the_expression() -> None:
    trigger = cron_trigger("0 12 * * *", "UTC")
    fires = next_fires(
        trigger,
        after=START,
        count=10,
        start=at("2026-01-05T00:00"),
        end=at("2026-01-07T12:00"),
    )
    assert [fire.at for fire in fires] == [
        at("2026-01-05T12:00"),
        at("2026-01-06T12:00"),
        at("2026-01-07T12:00"),
    ]


# --- describe ---


@pytest.mark.parametrize(
    ("every", "repeats", "text"),
    [
        (timedelta(hours=2, minutes=30), 10, "every 2 hours 30 minutes, 10 times"),
        (timedelta(weeks=1), None, "every week"),
        (timedelta(seconds=10), None, "every 10 seconds"),
        (timedelta(days=1, seconds=1), 1, "every 1 day 1 second, once"),
    ],
)
def test_describe_interval(every: timedelta, repeats: int | None, text: str) -> None:
    assert describe(IntervalTrigger(START, every, repeats)) == text


def test_describe_one_time_in_its_own_zone() -> None:
    trigger = OneTimeTrigger(datetime(2026, 3, 29, 2, 30, tzinfo=BERLIN))
    assert describe(trigger) == "once at 2026-03-29 02:30 (Europe/Berlin)"
    assert describe(OneTimeTrigger(at("2026-03-29T02:30:15"))) == (
        "once at 2026-03-29 02:30:15 (UTC)"
    )


@pytest.mark.parametrize(
    ("text", "dialect", "description"),
    [
        ("30 2 * * *", None, "At 02:30 (Europe/Berlin)"),
        ("*/15 * * * *", None, "Every 15 minutes (Europe/Berlin)"),
        ("0 30 2 * * 7", None, "At 02:30, only on Sunday (Europe/Berlin)"),
        ("0 0 12 ? * 6L", Dialect.QUARTZ,
         "At 12:00, on the last Friday of the month (Europe/Berlin)"),
        ("0 0 9 ? * 2-6 2030", None, "At 09:00, Monday through Friday, only in 2030 "
         "(Europe/Berlin)"),
        ("@daily", None, "At 00:00 (Europe/Berlin)"),
    ],
)  # fmt: skip
def test_describe_cron_respects_the_dialect(
    text: str, dialect: Dialect | None, description: str
) -> None:
    trigger = CronTrigger(CronExpression.parse(text, dialect), BERLIN)
    assert describe(trigger) == description


def test_describe_says_or_for_unix_day_fields_and_and_for_spring() -> None:
    assert describe(cron_trigger("0 0 13 * FRI", "UTC")) == (
        "At 00:00, on day 13 of the month, or on Friday (UTC)"
    )
    assert describe(cron_trigger("0 0 0 13 * FRI", "UTC")) == (
        "At 00:00, on day 13 of the month, only on Friday (UTC)"
    )


def test_describe_falls_back_to_the_source_when_the_describer_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("describer bug")

    monkeypatch.setattr("schedules.timing.descriptions.ExpressionDescriptor", broken)
    assert describe(cron_trigger("0 0 L-2 * *", "UTC")) == "0 0 L-2 * * (UTC)"


def test_an_absurdly_long_interval_is_a_field_error_not_an_overflow() -> None:
    with pytest.raises(TimingError) as info:
        interval_from_parts(seconds=73157310128255488)
    assert info.value.field == "interval"
    assert "at most 100 years" in info.value.message
