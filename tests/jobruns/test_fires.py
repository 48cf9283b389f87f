"""Writing a dispatcher batch: the unnest INSERT (PostgreSQL) and Django's (SQLite)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections, transaction

from jobruns import fires
from jobruns.fires import (
    fire_mark_overlap,
    fire_mark_replaced,
    fire_queued,
    fire_refused,
    fire_skipped,
    jobrun_insert_fires,
)
from jobruns.models import JobRun
from schedules.models import Schedule
from tests.jobruns.conftest import NOON, MakeSchedule

TEN_S = timedelta(seconds=10)


@pytest.fixture(autouse=True)
def published() -> Iterator[mock.Mock]:
    with mock.patch("jobruns.services._publish") as publish:
        yield publish


def _every_kind_of_fire(schedule: Schedule) -> list[JobRun]:
    """One row of each shape a batch writes, with values that differ row to row."""
    queued = fire_queued(schedule, NOON, trigger="scheduled", now=NOON)
    catchup = fire_queued(schedule, NOON + TEN_S, trigger="catchup", now=NOON)
    overlap = fire_queued(schedule, NOON + 2 * TEN_S, trigger="scheduled", now=NOON)
    fire_mark_overlap(overlap, now=NOON)
    replaced = fire_queued(schedule, NOON + 3 * TEN_S, trigger="scheduled", now=NOON)
    fire_mark_replaced(replaced, now=NOON)
    skipped = fire_skipped(
        schedule, NOON - TEN_S, reason="missed", count=7, note="7 fires", now=NOON
    )
    refused = fire_refused(
        schedule, NOON + 4 * TEN_S, error=ValidationError("gone"), now=NOON
    )
    return [queued, catchup, overlap, replaced, skipped, refused]


def _stored() -> list[tuple[Any, ...]]:
    columns = [
        field.attname for field in JobRun._meta.concrete_fields if field.attname != "id"
    ]
    return list(JobRun.objects.order_by("scheduled_for").values_list(*columns))


@pytest.mark.requires_postgres
@pytest.mark.django_db
def test_the_unnest_insert_writes_every_column_as_djangos_own_insert(
    make_schedule: MakeSchedule,
) -> None:
    schedule = make_schedule(
        input={"region": "north", "ids": [1, 2]},
        extra="--fast",
        correlation_id="batch-7",
        time_limit_seconds=90,
        overlap_policy="skip",
    )
    rows = _every_kind_of_fire(schedule)

    ours = fires._insert_unnest(rows)
    by_unnest = _stored()
    JobRun.objects.all().delete()
    djangos = fires._insert_compiled(rows)

    assert _stored() == by_unnest
    assert len(ours) == len(djangos) == len(rows)


@pytest.mark.requires_postgres
@pytest.mark.django_db
def test_a_single_fire_and_many_fires_of_one_schedule_are_written(
    make_schedule: MakeSchedule,
) -> None:
    # One row: every column is one value, no unnest at all. One schedule: its
    # columns are the same in every row but scheduled_for and the task id.
    schedule = make_schedule(overlap_policy="allow")
    one = fire_queued(schedule, NOON, trigger="scheduled", now=NOON)
    many = [
        fire_queued(schedule, NOON + i * TEN_S, trigger="catchup", now=NOON)
        for i in range(1, 6)
    ]

    first = jobrun_insert_fires(runs=[one], now=NOON)
    rest = jobrun_insert_fires(runs=many, now=NOON)

    assert [run.pk for run in first] == [one.pk]
    assert sorted(run.pk for run in rest) == sorted(run.pk for run in many)
    stored = JobRun.objects.order_by("scheduled_for")
    assert [run.scheduled_for for run in stored] == [NOON + i * TEN_S for i in range(6)]
    assert {run.celery_task_id for run in stored} == {
        run.celery_task_id for run in [one, *many]
    }


@pytest.mark.django_db
def test_a_batch_answers_only_the_fires_that_got_their_row(
    make_schedule: MakeSchedule, published: mock.Mock
) -> None:
    # Whichever INSERT this database takes (unnest on PostgreSQL, Django's own
    # on SQLite): a fire that has its row already is left out, not an error.
    schedule = make_schedule(overlap_policy="allow")
    jobrun_insert_fires(
        runs=[fire_queued(schedule, NOON, trigger="scheduled", now=NOON)], now=NOON
    )
    again = fire_queued(schedule, NOON, trigger="scheduled", now=NOON)
    new = fire_queued(schedule, NOON + TEN_S, trigger="scheduled", now=NOON)

    inserted = jobrun_insert_fires(runs=[again, new], now=NOON)

    assert inserted == [new]
    assert new.pk == JobRun.objects.get(scheduled_for=NOON + TEN_S).pk
    assert again.pk is None
    assert JobRun.objects.count() == 2


def _wait_for_a_blocked_insert(deadline: float) -> bool:
    """True once another backend of this database waits for a lock."""
    with connections["default"].cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                "current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return True
            time.sleep(0.05)
    return False


@pytest.mark.requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_fire_another_dispatcher_is_writing_is_left_out_once_it_commits(
    make_schedule: MakeSchedule,
) -> None:
    schedule = make_schedule(overlap_policy="allow")
    first_wrote = threading.Event()
    first_may_commit = threading.Event()
    answers: dict[str, list[JobRun]] = {}

    def dispatcher(name: str, fires: list[JobRun], hold: bool) -> None:
        try:
            with transaction.atomic():
                answers[name] = jobrun_insert_fires(runs=fires, now=NOON)
                if hold:
                    first_wrote.set()
                    first_may_commit.wait(30)
        finally:
            connection.close()

    first = threading.Thread(
        target=dispatcher,
        args=("first", [fire_queued(schedule, NOON, trigger="scheduled", now=NOON)]),
        kwargs={"hold": True},
    )
    first.start()
    assert first_wrote.wait(30)
    both = [
        fire_queued(schedule, NOON, trigger="scheduled", now=NOON),
        fire_queued(schedule, NOON + TEN_S, trigger="scheduled", now=NOON),
    ]
    second = threading.Thread(
        target=dispatcher, args=("second", both), kwargs={"hold": False}
    )
    second.start()
    # The second INSERT waits on the first's uncommitted row for the same fire.
    blocked = _wait_for_a_blocked_insert(time.monotonic() + 30)
    first_may_commit.set()
    first.join(30)
    second.join(30)

    assert blocked
    assert [run.scheduled_for for run in answers["second"]] == [NOON + TEN_S]
    rows = dict(JobRun.objects.values_list("scheduled_for", "pk"))
    assert rows == {
        NOON: answers["first"][0].pk,
        NOON + TEN_S: answers["second"][0].pk,
    }


# --- a fire row is built by copying a blank JobRun (fires._blank_run) ----------------
def _values(run: JobRun) -> dict[str, Any]:
    return {k: v for k, v in run.__dict__.items() if k != "_state"}


def test_a_blank_row_is_a_new_jobrun_field_by_field() -> None:
    from django.db.models.signals import post_init, pre_init

    blank = fires._blank_run()
    assert _values(blank) == _values(JobRun())
    assert blank._state.adding
    assert blank._state.db is None
    # The copy skips Model.__init__, so it would skip init signals' receivers.
    assert not pre_init.has_listeners(JobRun)
    assert not post_init.has_listeners(JobRun)


def test_blank_rows_share_no_mutable_default_nor_model_state() -> None:
    first, second = fires._blank_run(), fires._blank_run()
    first.args.append("x")
    first.input["k"] = 1
    first._state.adding = False
    assert second.args == []
    assert second.input == {}
    assert second._state.adding


@pytest.mark.django_db
def test_a_fire_row_is_what_the_model_would_build(make_schedule: MakeSchedule) -> None:
    schedule = make_schedule(input={"a": 1}, extra="x", correlation_id="c-1")
    run = fires._fire_row(schedule, NOON, now=NOON)
    expected = JobRun(
        schedule_id=schedule.pk,
        schedule_name=schedule.name,
        service=schedule.target,
        trigger=JobRun.Trigger.SCHEDULED,
        scheduled_for=NOON,
        triggered_by_label="dispatcher",
        input={"a": 1},
        extra="x",
        correlation_id="c-1",
        time_limit_seconds=run.time_limit_seconds,
        queued_at=NOON,
    )
    assert _values(run) == _values(expected)
    assert run.input is not schedule.input
