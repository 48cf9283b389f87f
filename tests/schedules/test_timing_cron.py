"""Cron parsing, validation and calendar rules in all three dialects (UTC only).

2026 calendar used below: 1 January is a Thursday, 1 February and 1 March are
Sundays, 31 January and 28 February are Saturdays, 31 May is a Sunday,
1 August is a Saturday.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schedules.timing import (
    MACROS,
    CronExpression,
    CronTrigger,
    Dialect,
    TimingError,
    cron_trigger,
    load_zone,
    next_fire,
    next_fires,
)


def upcoming(
    text: str,
    after: str = "2026-01-01T00:00",
    count: int = 3,
    dialect: Dialect | None = None,
) -> list[str]:
    trigger = CronTrigger(CronExpression.parse(text, dialect), load_zone("UTC"))
    start = datetime.fromisoformat(after).replace(tzinfo=UTC)
    return [
        fire.at.strftime("%Y-%m-%d %a %H:%M:%S")
        for fire in next_fires(trigger, after=start, count=count)
    ]


# --- dialects and field counts ---


@pytest.mark.parametrize(
    ("text", "dialect"),
    [
        ("0 0 * * *", Dialect.UNIX),
        ("0 0 0 * * *", Dialect.SPRING),
        ("0 0 0 ? * * *", Dialect.QUARTZ),
        ("@daily", Dialect.UNIX),
    ],
)
def test_dialect_is_detected_from_the_field_count(text: str, dialect: Dialect) -> None:
    assert CronExpression.parse(text).dialect is dialect


def test_quartz_accepts_six_fields_when_asked_for_because_the_year_is_optional() -> (
    None
):
    expression = CronExpression.parse("0 15 10 ? * MON-FRI", Dialect.QUARTZ)
    assert expression.dialect is Dialect.QUARTZ
    assert expression.years is None


def test_dialect_may_be_given_as_its_string_value() -> None:
    assert CronExpression.parse("0 0 0 * * *", "spring").dialect is Dialect.SPRING  # type: ignore[arg-type]


def test_extra_whitespace_is_normalised_in_the_source() -> None:
    assert CronExpression.parse("  0   0 * *\t* ").source == "0 0 * * *"


def test_unix_fires_at_second_zero() -> None:
    assert upcoming("* * * * *", after="2026-01-01T00:00:30", count=2) == [
        "2026-01-01 Thu 00:01:00",
        "2026-01-01 Thu 00:02:00",
    ]


def test_spring_seconds_field_fires_within_the_minute() -> None:
    assert upcoming("*/20 * * * * *", after="2026-01-01T00:00:30") == [
        "2026-01-01 Thu 00:00:40",
        "2026-01-01 Thu 00:01:00",
        "2026-01-01 Thu 00:01:20",
    ]


def test_a_fractional_after_never_returns_the_same_second() -> None:
    assert upcoming("* * * * * *", after="2026-01-01T00:00:00.500000", count=1) == [
        "2026-01-01 Thu 00:00:01"
    ]


# --- lists, ranges, steps and names ---


@pytest.mark.parametrize(
    ("field", "minutes"),
    [
        ("*/15", (0, 15, 30, 45)),
        ("5-30/5", (5, 10, 15, 20, 25, 30)),
        ("10/5", tuple(range(10, 60, 5))),
        ("1,2,40-42", (1, 2, 40, 41, 42)),
        ("57-57/2", (57,)),
        ("*/90", (0,)),
    ],
)
def test_minute_field_forms_expand_to_the_expected_minutes(
    field: str, minutes: tuple[int, ...]
) -> None:
    assert CronExpression.parse(f"{field} * * * *").minutes == minutes


def test_month_and_day_names_are_case_insensitive_and_work_in_ranges() -> None:
    expression = CronExpression.parse("0 0 * jan-Mar mon-FRI")
    assert expression.months == (1, 2, 3)
    assert upcoming("0 0 * jan-Mar mon-FRI", after="2026-01-02T12:00", count=2) == [
        "2026-01-05 Mon 00:00:00",
        "2026-01-06 Tue 00:00:00",
    ]


def test_a_day_range_may_end_on_sunday_by_name() -> None:
    assert upcoming("0 0 * * FRI-SUN") == [
        "2026-01-02 Fri 00:00:00",
        "2026-01-03 Sat 00:00:00",
        "2026-01-04 Sun 00:00:00",
    ]


@pytest.mark.parametrize(
    ("text", "dialect"),
    [
        ("0 0 * * 0", Dialect.UNIX),
        ("0 0 * * 7", Dialect.UNIX),
        ("0 0 0 * * 7", Dialect.SPRING),
        ("0 0 0 * * 0", Dialect.SPRING),
        ("0 0 0 ? * 1", Dialect.QUARTZ),
        ("0 0 0 ? * SUN", Dialect.QUARTZ),
    ],
)
def test_sunday_is_numbered_by_the_dialects_rules(text: str, dialect: Dialect) -> None:
    assert upcoming(text, dialect=dialect, count=2) == [
        "2026-01-04 Sun 00:00:00",
        "2026-01-11 Sun 00:00:00",
    ]


def test_quartz_monday_is_two() -> None:
    assert upcoming("0 0 0 ? * 2", dialect=Dialect.QUARTZ, count=1) == [
        "2026-01-05 Mon 00:00:00"
    ]


def test_single_value_day_range_is_that_day() -> None:
    assert upcoming("0 0 * * 6-6", count=2) == [
        "2026-01-03 Sat 00:00:00",
        "2026-01-10 Sat 00:00:00",
    ]


# --- special characters ---


@pytest.mark.parametrize(
    ("text", "after", "expected"),
    [
        ("0 0 L * *", "2026-01-01T00:00",
         ["2026-01-31 Sat", "2026-02-28 Sat", "2026-03-31 Tue"]),
        ("0 0 L-2 * *", "2026-01-01T00:00",
         ["2026-01-29 Thu", "2026-02-26 Thu", "2026-03-29 Sun"]),
        ("0 0 15W * *", "2026-01-01T00:00",
         ["2026-01-15 Thu", "2026-02-16 Mon", "2026-03-16 Mon"]),
        ("0 0 1W * *", "2026-07-31T00:00", ["2026-08-03 Mon"]),
        ("0 0 31W * *", "2026-05-01T00:00",
         ["2026-05-29 Fri", "2026-07-31 Fri"]),
        ("0 0 LW * *", "2026-01-01T00:00",
         ["2026-01-30 Fri", "2026-02-27 Fri", "2026-03-31 Tue"]),
        ("0 0 * * 5L", "2026-01-01T00:00",
         ["2026-01-30 Fri", "2026-02-27 Fri", "2026-03-27 Fri"]),
        ("0 0 * * FRIL", "2026-01-01T00:00", ["2026-01-30 Fri"]),
        ("0 0 * * FRI#3", "2026-01-01T00:00",
         ["2026-01-16 Fri", "2026-02-20 Fri", "2026-03-20 Fri"]),
        ("0 0 * * 5#3", "2026-01-01T00:00", ["2026-01-16 Fri"]),
        ("0 0 * * 5#5", "2026-01-01T00:00", ["2026-01-30 Fri", "2026-05-29 Fri"]),
    ],
)  # fmt: skip
def test_special_characters_pick_the_right_days(
    text: str, after: str, expected: list[str]
) -> None:
    days = [fire[:14] for fire in upcoming(text, after=after, count=len(expected))]
    assert days == expected


def test_quartz_l_alone_in_day_of_week_is_saturday() -> None:
    days = upcoming("0 0 0 ? * L", dialect=Dialect.QUARTZ, count=2)
    assert days == ["2026-01-03 Sat 00:00:00", "2026-01-10 Sat 00:00:00"]


def test_quartz_counts_from_sunday_one_in_last_and_nth() -> None:
    assert upcoming("0 0 0 ? * 6L", count=1, dialect=Dialect.QUARTZ) == [
        "2026-01-30 Fri 00:00:00"
    ]
    assert upcoming("0 0 0 ? * 6#3", count=1, dialect=Dialect.QUARTZ) == [
        "2026-01-16 Fri 00:00:00"
    ]


def test_spring_question_mark_means_no_restriction() -> None:
    assert upcoming("0 0 0 ? * MON", count=1) == ["2026-01-05 Mon 00:00:00"]


def test_quartz_year_field_limits_fires_and_then_finishes() -> None:
    assert upcoming("0 0 12 1 1 ? 2027-2028", count=3) == [
        "2027-01-01 Fri 12:00:00",
        "2028-01-01 Sat 12:00:00",
    ]


def test_quartz_year_only_in_the_past_is_valid_but_never_fires_again() -> None:
    trigger = cron_trigger("0 0 12 ? * 6L 2000", "UTC")
    assert next_fire(trigger, after=datetime(2026, 1, 1, tzinfo=UTC)) is None


# --- combining day-of-month and day-of-week ---


def test_unix_fires_on_either_day_field_when_both_are_restricted() -> None:
    assert upcoming("0 0 13 * FRI") == [
        "2026-01-02 Fri 00:00:00",
        "2026-01-09 Fri 00:00:00",
        "2026-01-13 Tue 00:00:00",
    ]


def test_unix_requires_both_when_a_day_field_starts_with_a_star() -> None:
    # Vixie cron: `*/2` starts with `*`, so this is odd days that are Fridays.
    assert upcoming("0 0 */2 * FRI") == [
        "2026-01-09 Fri 00:00:00",
        "2026-01-23 Fri 00:00:00",
        "2026-02-13 Fri 00:00:00",
    ]


def test_spring_requires_both_day_fields() -> None:
    assert upcoming("0 0 0 13 * FRI") == [
        "2026-02-13 Fri 00:00:00",
        "2026-03-13 Fri 00:00:00",
        "2026-11-13 Fri 00:00:00",
    ]


def test_quartz_is_lenient_about_a_star_beside_a_restricted_day_field() -> None:
    assert upcoming("0 0 0 * * FRI *", count=1) == ["2026-01-02 Fri 00:00:00"]
    assert upcoming("0 0 0 13 * * *", count=1) == ["2026-01-13 Tue 00:00:00"]
    assert upcoming("0 0 0 ? * ? *", count=1) == ["2026-01-02 Fri 00:00:00"]


# --- macros ---


@pytest.mark.parametrize("macro", sorted(MACROS))
def test_each_macro_means_its_unix_expansion(macro: str) -> None:
    expanded = CronExpression.parse(MACROS[macro])
    parsed = CronExpression.parse(macro.upper())
    assert parsed.dialect is Dialect.UNIX
    assert (parsed.minutes, parsed.hours, parsed.months) == (
        expanded.minutes,
        expanded.hours,
        expanded.months,
    )
    assert upcoming(macro) == upcoming(MACROS[macro])


def test_spring_macro_fires_at_second_zero() -> None:
    expression = CronExpression.parse("@hourly", Dialect.SPRING)
    assert expression.dialect is Dialect.SPRING
    assert expression.seconds == (0,)


# --- errors: the field is named and the fault is stated ---


@pytest.mark.parametrize(
    ("text", "dialect", "message"),
    [
        ("0 0 32 * *", None, "day-of-month 32 is outside 1-31"),
        ("60 * * * *", None, "minute 60 is outside 0-59"),
        ("0 24 * * *", None, "hour 24 is outside 0-23"),
        ("0 0 1 13 *", None, "month 13 is outside 1-12"),
        ("0 0 * * 8", None, "day-of-week 8 is outside 0-7"),
        ("0 0 0 ? * 0 *", None, "day-of-week 0 is outside 1-7"),
        ("60 * * * * *", None, "second 60 is outside 0-59"),
        ("0 0 0 1 1 ? 2100", None, "year 2100 is outside 1970-2099"),
        ("*/0 * * * *", None, "minute step '0' must be a whole number of at least 1"),
        ("/5 * * * *", None, "minute item '/5' has nothing before '/'"),
        ("0 0 * FOO *", None, "month value 'FOO' is not a number or a name (JAN-DEC)"),
        ("0 0 * * FUN", None,
         "day-of-week value 'FUN' is not a number or a name (SUN-SAT)"),
        ("0 22-2 * * *", None,
         "hour range 22-2 runs backwards; split it, e.g. 22-23,0-2"),
        ("1,,2 * * * *", None, "minute field '1,,2' has an empty list item"),
        ("   ", None, "the cron expression is empty"),
        ("0 0 * *", None,
         "cron needs 5 fields (Unix), 6 (Spring, seconds first) or "
         "7 (Quartz, seconds first, year last), got 4"),
        ("0 0 * * *", Dialect.SPRING, "Spring cron needs 6 fields, got 5"),
        ("0 0 0 * * *", Dialect.UNIX, "Unix cron needs 5 fields, got 6"),
        ("0 0 * * *", Dialect.QUARTZ, "Quartz cron needs 6 or 7 fields, got 5"),
        ("0 0 30 2 *", None, "this expression never fires (30 February)"),
        ("0 0 31 4,6 *", None, "this expression never fires (31 April or June)"),
        ("0 0 0 30 2 ?", None, "this expression never fires (30 February)"),
        ("0 0 0 29 2 ? 2027", None, "this expression never fires (29 February)"),
        ("0 0 0 L-30 2 ?", None, "this expression never fires "
         "(no date satisfies day-of-month, day-of-week and month together)"),
        ("0 0 0 ? 2 5#5 2026", None, "this expression never fires "
         "(no date satisfies day-of-month, day-of-week, month and year together)"),
        ("0 0 ? * *", None,
         "day-of-month '?' is Spring/Quartz syntax; use * in Unix cron"),
        ("? * * * * *", None,
         "second cannot be '?'; only day-of-month and day-of-week can"),
        ("0 0 0 ?/2 * *", None, "day-of-month '?' must stand alone, got '?/2'"),
        ("0 0 12 15 * MON *", None,
         "Quartz cron needs '?' in day-of-month or day-of-week when the other is set "
         "(got '15' and 'MON')"),
        ("0 0 * * L", None, "day-of-week L alone is Quartz-only (Saturday); "
         "write 5L for the last Friday of the month"),
        ("0 0 * * 5#6", None, "day-of-week 5#6: week number 6 is outside 1-5"),
        ("0 0 * * FRI#0", None, "day-of-week FRI#0: week number 0 is outside 1-5"),
        ("0 0 L-31 * *", None, "day-of-month L-31 needs L-n with n from 0 to 30"),
        ("0 0 1-5W * *", None,
         "day-of-month 1-5W: W takes a single day, like 15W (nearest weekday)"),
        ("0 0 32W * *", None, "day-of-month 32 is outside 1-31"),
        ("@fortnightly", None, "unknown macro '@fortnightly'; use one of @yearly, "
         "@annually, @monthly, @weekly, @daily, @midnight, @hourly"),
        ("@daily", Dialect.QUARTZ, "Quartz cron has no macros like @daily; "
         "write the fields out"),
    ],
)  # fmt: skip
def test_bad_expressions_raise_a_timing_error_that_names_the_fault(
    text: str, dialect: Dialect | None, message: str
) -> None:
    with pytest.raises(TimingError) as caught:
        CronExpression.parse(text, dialect)
    assert caught.value.field == "cron_expression"
    assert caught.value.message == message


def test_timing_error_is_a_value_error_that_names_its_field() -> None:
    error = TimingError("interval", "an interval needs at least one positive part")
    assert isinstance(error, ValueError)
    assert str(error) == "interval: an interval needs at least one positive part"


def test_a_non_string_expression_is_a_programming_error() -> None:
    with pytest.raises(TypeError):
        CronExpression.parse(5)  # type: ignore[arg-type]


# --- zones ---


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Europe/Berln", "unknown time zone 'Europe/Berln'"),
        ("../etc/passwd", "unknown time zone '../etc/passwd'"),
        ("", "a time zone name such as 'Europe/Berlin' is required"),
    ],
)
def test_load_zone_rejects_bad_names_with_a_time_zone_error(
    name: str, message: str
) -> None:
    with pytest.raises(TimingError) as caught:
        load_zone(name)
    assert (caught.value.field, caught.value.message) == ("time_zone", message)


def test_load_zone_returns_the_zone() -> None:
    assert load_zone("Europe/Berlin").key == "Europe/Berlin"


# --- matches, flags, naive input ---


def test_matches_checks_every_field_including_seconds() -> None:
    weekdays = CronExpression.parse("30 2 * * 1-5")
    assert weekdays.matches(datetime(2026, 3, 30, 2, 30))  # Monday
    assert not weekdays.matches(datetime(2026, 3, 29, 2, 30))  # Sunday
    assert not weekdays.matches(datetime(2026, 3, 30, 2, 30, 15))


def test_matches_refuses_an_aware_datetime() -> None:
    with pytest.raises(TypeError):
        CronExpression.parse("* * * * *").matches(datetime(2026, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("*/15 * * * *", True),
        ("0 */2 * * *", True),
        ("0 1-23/2 * * *", True),
        ("@hourly", True),
        ("30 2 * * *", False),
        ("0 0 2 * * *", False),
    ],
)
def test_hour_wildcard_or_step_is_detected(text: str, expected: bool) -> None:
    assert CronExpression.parse(text).hour_is_wildcard_or_step is expected


def test_naive_after_is_a_programming_error() -> None:
    trigger = cron_trigger("* * * * *", "UTC")
    with pytest.raises(TypeError):
        next_fire(trigger, after=datetime(2026, 1, 1))


def test_parsed_expressions_compare_by_content() -> None:
    first = CronExpression.parse("0 0 * * *")
    first.month_days(2026, 1)  # fills the private cache
    assert first == CronExpression.parse("0  0 * * *")
    assert hash(first) == hash(CronExpression.parse("0 0 * * *"))
