"""Schedule rows: database constraints (bypassing services) and model methods."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import IntegrityError, transaction

from schedules import timing
from schedules.models import Schedule, ScheduleTag
from tests.schedules.factories import NOW

pytestmark = pytest.mark.django_db


def _row(**fields: Any) -> Schedule:
    values: dict[str, Any] = {
        "name": "row",
        "kind": "cron",
        "cron_expression": "0 * * * *",
        "target": "demo.echo",
    }
    values.update(fields)
    return Schedule(**values)


def _violates(schedule: Schedule) -> bool:
    try:
        with transaction.atomic():
            schedule.save()
    except IntegrityError:
        return True
    return False


def test_a_valid_row_saves_without_services() -> None:
    assert not _violates(_row())


@pytest.mark.parametrize(
    ("label", "fields"),
    [
        ("unknown kind", {"kind": "weekly"}),
        ("empty name", {"name": ""}),
        ("one-time without run_at", {"kind": "one_time", "cron_expression": ""}),
        ("interval with every part zero", {"kind": "interval"}),
        ("cron without expression", {"cron_expression": ""}),
        (
            "end before start",
            {"start_at": NOW, "end_at": NOW - timedelta(seconds=1)},
        ),
        ("end equal to start", {"start_at": NOW, "end_at": NOW}),
        ("zero repeats", {"repeats": 0}),
        ("negative priority", {"priority": -1}),
        ("priority above 99", {"priority": 100}),
        ("zero max_parallel", {"max_parallel": 0}),
        ("empty target", {"target": ""}),
    ],
)
def test_the_database_refuses_a_row_with(label: str, fields: dict[str, Any]) -> None:
    assert _violates(_row(**fields)), label


def test_the_database_refuses_a_duplicate_name() -> None:
    _row().save()
    assert _violates(_row())


def test_the_database_refuses_two_tags_with_the_same_key() -> None:
    schedule = _row()
    schedule.save()
    ScheduleTag.objects.create(schedule=schedule, key="team", value="a")
    with pytest.raises(IntegrityError), transaction.atomic():
        ScheduleTag.objects.create(schedule=schedule, key="team", value="b")


def test_interval_adds_up_every_part() -> None:
    schedule = _row(kind="interval", interval_days=1, interval_hours=2)
    schedule.interval_minutes = 30
    assert schedule.interval == timedelta(days=1, hours=2, minutes=30)


def test_one_time_fires_at_run_at_and_then_is_finished() -> None:
    run_at = NOW + timedelta(hours=1)
    schedule = _row(kind="one_time", run_at=run_at, created_at=NOW)
    fire = schedule.next_fire_after(NOW)
    assert fire is not None
    assert fire.at == run_at
    assert schedule.next_fire_after(run_at) is None
    schedule.last_run_at, schedule.run_count, schedule.next_run_at = run_at, 1, None
    assert schedule.is_finished


def test_an_active_schedule_with_a_next_run_is_not_finished() -> None:
    schedule = _row(next_run_at=NOW)
    assert not schedule.is_finished


def test_interval_fires_at_start_plus_multiples_and_stops_after_repeats() -> None:
    schedule = _row(
        kind="interval", interval_hours=1, repeats=3, start_at=NOW, created_at=NOW
    )
    fires = timing.next_fires(
        schedule.trigger(), after=NOW - timedelta(seconds=1), count=10
    )
    assert [fire.at for fire in fires] == [NOW + timedelta(hours=k) for k in range(3)]
    assert schedule.next_fire_after(NOW + timedelta(hours=2)) is None


def test_interval_without_start_counts_from_creation() -> None:
    schedule = _row(kind="interval", interval_minutes=15, created_at=NOW)
    fire = schedule.next_fire_after(NOW)
    assert fire is not None
    assert fire.at == NOW + timedelta(minutes=15)


def test_next_fire_after_never_leaves_the_start_and_end_bounds() -> None:
    start = datetime(2025, 4, 1, tzinfo=UTC)
    schedule = _row(
        cron_expression="0 12 * * *",
        time_zone="UTC",
        start_at=start,
        end_at=start + timedelta(days=1, hours=12),
    )
    first = schedule.next_fire_after(NOW)
    assert first is not None
    assert first.at == datetime(2025, 4, 1, 12, tzinfo=UTC)
    second = schedule.next_fire_after(first.at)
    assert second is not None
    assert second.at == datetime(2025, 4, 2, 12, tzinfo=UTC)
    assert schedule.next_fire_after(second.at) is None


def test_cron_trigger_uses_the_recorded_dialect_and_dst_overrides() -> None:
    schedule = _row(
        cron_expression="0 30 2 * * ?",
        cron_dialect="quartz",
        time_zone="Europe/Berlin",
        dst_gap="skip",
        dst_fold="both",
    )
    trigger = schedule.trigger()
    assert isinstance(trigger, timing.CronTrigger)
    assert trigger.expression.dialect is timing.Dialect.QUARTZ
    assert trigger.gap_policy is timing.DstGap.SKIP
    assert trigger.fold_policy is timing.DstFold.BOTH


@pytest.mark.requires_postgres
def test_postgres_holds_the_checks_and_the_partial_due_index() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = "
            "'schedules_schedule'::regclass AND contype = 'c'"
        )
        checks = {row[0] for row in cursor.fetchall()}
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'schedule_due_idx'"
        )
        (index,) = cursor.fetchone()
    assert {
        "schedule_one_time_has_run_at",
        "schedule_interval_has_positive_part",
        "schedule_cron_has_expression",
        "schedule_end_after_start",
        "schedule_repeats_positive",
        "schedule_priority_range",
    } <= checks
    assert "WHERE" in index
    assert "is_paused" in index
