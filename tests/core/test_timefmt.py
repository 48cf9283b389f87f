from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from core.timefmt import format_instant, format_relative

INSTANT = datetime(2026, 12, 1, 23, 18, 51, tzinfo=UTC)


def test_an_instant_is_shown_in_the_active_zone_with_seconds_and_abbreviation() -> None:
    with timezone.override(ZoneInfo("Asia/Tokyo")):
        assert format_instant(INSTANT) == "2026-12-02 08:18:51 JST"


def test_the_twelve_hour_clock_is_used_when_asked() -> None:
    with timezone.override(ZoneInfo("America/New_York")):
        assert format_instant(INSTANT, hour12=True) == "2026-12-01 06:18:51 PM EST"


def test_nothing_is_shown_for_no_instant() -> None:
    assert format_instant(None) == ""


def test_relative_times_read_as_a_person_would_say_them() -> None:
    now = INSTANT
    assert format_relative(now + timedelta(minutes=3, seconds=5), now=now) == "in 3 min"
    assert format_relative(now - timedelta(seconds=12), now=now) == "12 s ago"
    later = now + timedelta(hours=2, minutes=5)
    assert format_relative(later, now=now) == "in 2 h 5 min"
    assert format_relative(now + timedelta(days=3), now=now) == "in 3 d"
    assert format_relative(now, now=now) == "now"


def test_a_status_badge_names_the_status_in_words_and_colour() -> None:
    from core.templatetags.scheduler_ui import outcome_strip, status_badge

    assert status_badge("timed_out") == (
        '<span class="status-badge status-timed_out">timed out</span>'
    )
    strip = outcome_strip(["succeeded", "failed"])
    assert 'class="outcome status-succeeded" title="succeeded"' in strip
    assert 'class="outcome status-failed" title="failed"' in strip
