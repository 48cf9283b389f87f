"""`field__any_of=[...]` (core.lookups): the same rows as `__in`, one parameter."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from jobruns.models import JobRun
from schedules.models import Schedule
from tests.jobruns.conftest import NOON, MakeSchedule

pytestmark = pytest.mark.django_db


def _run(schedule: Schedule, status: str, minute: int) -> JobRun:
    return JobRun.objects.create(
        schedule=schedule,
        schedule_name=schedule.name,
        service="core.echo",
        trigger="manual",
        status=status,
        queued_at=NOON.replace(minute=minute),
        time_limit_seconds=60,
    )


def test_any_of_matches_what_in_matches_on_fields_and_relations(
    make_schedule: MakeSchedule,
) -> None:
    first, second, third = (make_schedule() for _ in range(3))
    for minute, (schedule, status) in enumerate(
        [
            (first, "queued"),
            (second, "succeeded"),
            (third, "in_progress"),
            (first, "failed"),
            (second, "queued"),
        ]
    ):
        _run(schedule, status, minute)
    ids = {first.pk, third.pk}  # a set, as callers pass one
    statuses = ("queued", "in_progress")

    def pks(**lookups: object) -> set[int]:
        return set(JobRun.objects.filter(**lookups).values_list("pk", flat=True))

    assert pks(schedule_id__any_of=ids) == pks(schedule_id__in=ids)
    assert pks(schedule__any_of=ids) == pks(schedule__in=ids)
    assert pks(schedule_id__any_of=ids, status__any_of=statuses) == pks(
        schedule_id__in=ids, status__in=statuses
    )
    assert len(pks(schedule_id__any_of=ids, status__any_of=statuses)) == 2
    assert pks(pk__any_of=[]) == set()


def test_an_empty_list_sends_no_query() -> None:
    with CaptureQueriesContext(connection) as queries:
        assert list(JobRun.objects.filter(pk__any_of=[])) == []
    assert len(queries) == 0


@pytest.mark.requires_postgres
def test_on_postgresql_the_values_are_one_array_parameter(
    make_schedule: MakeSchedule,
) -> None:
    ids = [make_schedule().pk for _ in range(3)]
    with CaptureQueriesContext(connection) as queries:
        list(JobRun.objects.filter(schedule_id__any_of=ids))
    [query] = queries.captured_queries
    assert "= ANY(ARRAY[" in query["sql"]
    assert " IN (" not in query["sql"]
