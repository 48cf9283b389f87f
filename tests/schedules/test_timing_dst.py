"""The DST promise, night by night, with the expected UTC instants written out.

Transition nights used (checked against the zone data below):
* Europe/Berlin 2026: spring 29 March 02:00 CET -> 03:00 CEST (01:00 UTC),
  fall 25 October 03:00 CEST -> 02:00 CET (01:00 UTC).
* America/New_York 2026: spring 8 March 02:00 EST -> 03:00 EDT (07:00 UTC),
  fall 1 November 02:00 EDT -> 01:00 EST (06:00 UTC).
* Australia/Lord_Howe 2026 (30-minute shift): fall 5 April 02:00 +11 -> 01:30
  +10:30 (15:00 UTC on 4 April), spring 4 October 02:00 +10:30 -> 02:30 +11
  (15:30 UTC on 3 October).
* Asia/Tokyo: no DST, the control group.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from schedules.timing import (
    CronExpression,
    CronTrigger,
    DstFold,
    DstGap,
    DstNote,
    cron_trigger,
    load_zone,
    next_fire,
    next_fires,
)

SHIFTED = DstNote.SHIFTED
REPEATED = DstNote.REPEATED


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone_name", "instant", "offset_before", "offset_after"),
    [
        ("Europe/Berlin", "2026-03-29T01:00", 1, 2),
        ("Europe/Berlin", "2026-10-25T01:00", 2, 1),
        ("America/New_York", "2026-03-08T07:00", -5, -4),
        ("America/New_York", "2026-11-01T06:00", -4, -5),
        ("Australia/Lord_Howe", "2026-04-04T15:00", 11, 10.5),
        ("Australia/Lord_Howe", "2026-10-03T15:30", 10.5, 11),
    ],
)
def test_the_tables_transition_instants_come_from_the_zone_data(
    zone_name: str, instant: str, offset_before: float, offset_after: float
) -> None:
    zone = load_zone(zone_name)
    moment = utc(instant)
    just_before = (moment - timedelta(seconds=1)).astimezone(zone).utcoffset()
    assert just_before == timedelta(hours=offset_before)
    assert moment.astimezone(zone).utcoffset() == timedelta(hours=offset_after)


# (zone, expression, gap policy, fold policy, after (UTC), expected fires (UTC, note))
DST_TABLE = [
    # --- Europe/Berlin, spring forward (02:00-03:00 does not exist) ---
    ("Europe/Berlin", "30 2 * * *", None, None, "2026-03-28T12:00",
     [("2026-03-29T01:00", SHIFTED), ("2026-03-30T00:30", None)]),
    ("Europe/Berlin", "30 2 * * *", DstGap.SKIP, None, "2026-03-28T12:00",
     [("2026-03-30T00:30", None), ("2026-03-31T00:30", None)]),
    ("Europe/Berlin", "30 2 * * *", DstGap.SHIFT, None, "2026-03-28T12:00",
     [("2026-03-29T01:00", SHIFTED), ("2026-03-30T00:30", None)]),
    ("Europe/Berlin", "0,30 2 * * *", None, None, "2026-03-29T00:00",
     [("2026-03-29T01:00", SHIFTED), ("2026-03-30T00:00", None)]),
    ("Europe/Berlin", "0 * * * *", None, None, "2026-03-28T23:30",
     [("2026-03-29T00:00", None), ("2026-03-29T01:00", None),
      ("2026-03-29T02:00", None)]),
    ("Europe/Berlin", "0 * * * *", DstGap.SHIFT, None, "2026-03-28T23:30",
     [("2026-03-29T00:00", None), ("2026-03-29T01:00", SHIFTED),
      ("2026-03-29T02:00", None)]),
    ("Europe/Berlin", "*/15 * * * *", None, None, "2026-03-29T00:40",
     [("2026-03-29T00:45", None), ("2026-03-29T01:00", None),
      ("2026-03-29T01:15", None)]),
    ("Europe/Berlin", "*/15 * * * *", DstGap.SHIFT, None, "2026-03-29T00:40",
     [("2026-03-29T00:45", None), ("2026-03-29T01:00", SHIFTED),
      ("2026-03-29T01:15", None)]),
    # --- Europe/Berlin, fall back (02:00-03:00 happens twice) ---
    ("Europe/Berlin", "30 2 * * *", None, None, "2026-10-24T12:00",
     [("2026-10-25T00:30", None), ("2026-10-26T01:30", None)]),
    ("Europe/Berlin", "30 2 * * *", None, DstFold.FIRST, "2026-10-24T12:00",
     [("2026-10-25T00:30", None), ("2026-10-26T01:30", None)]),
    ("Europe/Berlin", "30 2 * * *", None, DstFold.BOTH, "2026-10-24T12:00",
     [("2026-10-25T00:30", None), ("2026-10-25T01:30", REPEATED),
      ("2026-10-26T01:30", None)]),
    ("Europe/Berlin", "0 * * * *", None, None, "2026-10-24T23:30",
     [("2026-10-25T00:00", None), ("2026-10-25T01:00", REPEATED),
      ("2026-10-25T02:00", None)]),
    ("Europe/Berlin", "0 * * * *", None, DstFold.FIRST, "2026-10-24T23:30",
     [("2026-10-25T00:00", None), ("2026-10-25T02:00", None),
      ("2026-10-25T03:00", None)]),
    ("Europe/Berlin", "*/15 * * * *", None, None, "2026-10-25T00:40",
     [("2026-10-25T00:45", None), ("2026-10-25T01:00", REPEATED),
      ("2026-10-25T01:15", REPEATED), ("2026-10-25T01:30", REPEATED)]),
    ("Europe/Berlin", "*/15 * * * *", None, DstFold.FIRST, "2026-10-25T00:40",
     [("2026-10-25T00:45", None), ("2026-10-25T02:00", None),
      ("2026-10-25T02:15", None)]),
    # --- America/New_York: gap 02:00-03:00 in March, fold 01:00-02:00 in November ---
    ("America/New_York", "30 2 * * *", None, None, "2026-03-07T12:00",
     [("2026-03-08T07:00", SHIFTED), ("2026-03-09T06:30", None)]),
    ("America/New_York", "30 2 * * *", DstGap.SKIP, None, "2026-03-07T12:00",
     [("2026-03-09T06:30", None), ("2026-03-10T06:30", None)]),
    ("America/New_York", "0 * * * *", None, None, "2026-03-08T06:30",
     [("2026-03-08T07:00", None), ("2026-03-08T08:00", None)]),
    ("America/New_York", "*/15 * * * *", None, None, "2026-03-08T06:40",
     [("2026-03-08T06:45", None), ("2026-03-08T07:00", None)]),
    ("America/New_York", "30 1 * * *", None, None, "2026-10-31T12:00",
     [("2026-11-01T05:30", None), ("2026-11-02T06:30", None)]),
    ("America/New_York", "30 1 * * *", None, DstFold.BOTH, "2026-10-31T12:00",
     [("2026-11-01T05:30", None), ("2026-11-01T06:30", REPEATED),
      ("2026-11-02T06:30", None)]),
    ("America/New_York", "0 * * * *", None, None, "2026-11-01T04:30",
     [("2026-11-01T05:00", None), ("2026-11-01T06:00", REPEATED),
      ("2026-11-01T07:00", None)]),
    ("America/New_York", "*/15 * * * *", None, DstFold.FIRST, "2026-11-01T05:40",
     [("2026-11-01T05:45", None), ("2026-11-01T07:00", None)]),
    # --- Australia/Lord_Howe: 30-minute shifts ---
    ("Australia/Lord_Howe", "45 1 * * *", None, None, "2026-04-04T00:00",
     [("2026-04-04T14:45", None), ("2026-04-05T15:15", None)]),
    ("Australia/Lord_Howe", "45 1 * * *", None, DstFold.BOTH, "2026-04-04T00:00",
     [("2026-04-04T14:45", None), ("2026-04-04T15:15", REPEATED),
      ("2026-04-05T15:15", None)]),
    ("Australia/Lord_Howe", "*/15 * * * *", None, None, "2026-04-04T14:40",
     [("2026-04-04T14:45", None), ("2026-04-04T15:00", REPEATED),
      ("2026-04-04T15:15", REPEATED), ("2026-04-04T15:30", None)]),
    ("Australia/Lord_Howe", "0 * * * *", None, None, "2026-04-04T14:30",
     [("2026-04-04T15:30", None), ("2026-04-04T16:30", None)]),
    ("Australia/Lord_Howe", "15 2 * * *", None, None, "2026-10-03T00:00",
     [("2026-10-03T15:30", SHIFTED), ("2026-10-04T15:15", None)]),
    ("Australia/Lord_Howe", "15 2 * * *", DstGap.SKIP, None, "2026-10-03T00:00",
     [("2026-10-04T15:15", None), ("2026-10-05T15:15", None)]),
    ("Australia/Lord_Howe", "*/15 * * * *", None, None, "2026-10-03T15:10",
     [("2026-10-03T15:15", None), ("2026-10-03T15:30", None),
      ("2026-10-03T15:45", None)]),
    ("Australia/Lord_Howe", "0 * * * *", None, None, "2026-10-03T14:00",
     [("2026-10-03T14:30", None), ("2026-10-03T16:00", None)]),
    # --- Asia/Tokyo and UTC: no DST, no surprises on Europe's nights ---
    ("Asia/Tokyo", "30 2 * * *", None, None, "2026-03-28T12:00",
     [("2026-03-28T17:30", None), ("2026-03-29T17:30", None)]),
    ("Asia/Tokyo", "0 * * * *", None, DstFold.BOTH, "2026-10-24T23:30",
     [("2026-10-25T00:00", None), ("2026-10-25T01:00", None)]),
    ("UTC", "30 2 * * *", DstGap.SKIP, DstFold.BOTH, "2026-03-28T12:00",
     [("2026-03-29T02:30", None), ("2026-03-30T02:30", None)]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("zone_name", "text", "gap", "fold", "after", "expected"), DST_TABLE
)
def test_dst_table_fires_at_the_promised_instants(
    zone_name: str,
    text: str,
    gap: DstGap | None,
    fold: DstFold | None,
    after: str,
    expected: list[tuple[str, DstNote | None]],
) -> None:
    trigger = cron_trigger(text, zone_name, dst_gap=gap, dst_fold=fold)
    fires = next_fires(trigger, after=utc(after), count=len(expected))
    assert [(fire.at, fire.dst) for fire in fires] == [
        (utc(moment), note) for moment, note in expected
    ]


def test_daily_0230_berlin_fires_once_on_fallback_night() -> None:
    trigger = cron_trigger("30 2 * * *", "Europe/Berlin")
    night = next_fires(
        trigger, after=utc("2026-10-24T22:00"), count=5, until=utc("2026-10-25T22:00")
    )
    assert [fire.at for fire in night] == [utc("2026-10-25T00:30")]


def test_daily_0230_berlin_fires_once_on_spring_forward_night_at_0300() -> None:
    trigger = cron_trigger("30 2 * * *", "Europe/Berlin")
    night = next_fires(
        trigger, after=utc("2026-03-28T22:00"), count=5, until=utc("2026-03-29T22:00")
    )
    assert night[0].at.astimezone(trigger.zone).strftime("%H:%M %Z") == "03:00 CEST"
    assert [(fire.at, fire.dst) for fire in night] == [
        (utc("2026-03-29T01:00"), DstNote.SHIFTED)
    ]


def test_shifted_fire_is_not_repeated_when_asking_again_from_it() -> None:
    trigger = cron_trigger("*/10 2 * * *", "Europe/Berlin", dst_gap=DstGap.SHIFT)
    shifted = next_fire(trigger, after=utc("2026-03-29T00:30"))
    assert shifted is not None
    assert (shifted.at, shifted.dst) == (utc("2026-03-29T01:00"), DstNote.SHIFTED)
    following = next_fire(trigger, after=shifted.at)
    assert following is not None
    assert following.at == utc("2026-03-30T00:00")


def test_asking_from_inside_the_first_pass_of_a_fold_finds_the_repeat() -> None:
    trigger = cron_trigger("30 2 * * *", "Europe/Berlin", dst_fold=DstFold.BOTH)
    # 00:45 UTC is 02:45 CEST: 02:30 has passed once and will come round again.
    fire = next_fire(trigger, after=utc("2026-10-25T00:45"))
    assert fire is not None
    assert (fire.at, fire.dst) == (utc("2026-10-25T01:30"), DstNote.REPEATED)


def test_asking_from_inside_the_second_pass_of_a_fold_moves_on() -> None:
    trigger = cron_trigger("*/20 * * * *", "Europe/Berlin")
    # 01:10 UTC is 02:10 CET, the second time round.
    fires = next_fires(trigger, after=utc("2026-10-25T01:10"), count=3)
    assert [(fire.at, fire.dst) for fire in fires] == [
        (utc("2026-10-25T01:20"), DstNote.REPEATED),
        (utc("2026-10-25T01:40"), DstNote.REPEATED),
        (utc("2026-10-25T02:00"), None),
    ]


def test_every_15_minutes_keeps_real_elapsed_time_across_both_berlin_nights() -> None:
    trigger = cron_trigger("*/15 * * * *", "Europe/Berlin")
    for night in ("2026-03-28T22:00", "2026-10-24T22:00"):
        fires = next_fires(trigger, after=utc(night), count=24)
        gaps = {later.at - earlier.at for earlier, later in pairwise(fires)}
        assert gaps == {timedelta(minutes=15)}


def test_every_two_hours_is_stepped_so_it_keeps_elapsed_time_too() -> None:
    expression = CronExpression.parse("0 */2 * * *")
    assert expression.hour_is_wildcard_or_step
    trigger = CronTrigger(expression, load_zone("Europe/Berlin"))
    fires = next_fires(trigger, after=utc("2026-10-24T20:30"), count=4)
    assert [(fire.at, fire.dst) for fire in fires] == [
        (utc("2026-10-24T22:00"), None),  # 00:00 CEST
        (utc("2026-10-25T00:00"), None),  # 02:00 CEST
        (utc("2026-10-25T01:00"), DstNote.REPEATED),  # 02:00 CET
        (utc("2026-10-25T03:00"), None),  # 04:00 CET
    ]


def test_fixed_hour_list_is_not_a_step_so_it_shifts_and_fires_once() -> None:
    assert not CronExpression.parse("0 1,2,3 * * *").hour_is_wildcard_or_step
    assert not CronExpression.parse("0 0-23 * * *").hour_is_wildcard_or_step


def test_spring_seconds_shift_out_of_the_gap_to_the_first_valid_second() -> None:
    trigger = cron_trigger("15 30 2 * * *", "Europe/Berlin")
    fire = next_fire(trigger, after=utc("2026-03-28T12:00"))
    assert fire is not None
    assert (fire.at, fire.dst) == (utc("2026-03-29T01:00"), DstNote.SHIFTED)


def test_every_second_in_the_fold_counts_real_seconds() -> None:
    trigger = cron_trigger("* * * * * *", "Europe/Berlin")
    start = utc("2026-10-25T00:59:58")
    fires = next_fires(trigger, after=start, count=4)
    assert [fire.at for fire in fires] == [
        utc("2026-10-25T00:59:59"),
        utc("2026-10-25T01:00:00"),
        utc("2026-10-25T01:00:01"),
        utc("2026-10-25T01:00:02"),
    ]


def test_aware_inputs_in_any_zone_give_utc_fires() -> None:
    trigger = cron_trigger("30 2 * * *", "Europe/Berlin")
    tokyo_after = datetime(2026, 3, 28, 21, 0, tzinfo=load_zone("Asia/Tokyo"))
    fire = next_fire(trigger, after=tokyo_after)
    assert fire is not None
    assert fire.at == utc("2026-03-29T01:00")
    assert fire.at.tzinfo is UTC
