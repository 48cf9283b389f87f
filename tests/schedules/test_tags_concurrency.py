"""Two tag replaces of one schedule at once: both succeed, one after the other.

Found by schemathesis with two workers: delete-then-insert raced and the second
commit broke UNIQUE(schedule, key), a 500.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from schedules.models import Schedule, ScheduleTag
from schedules.services import schedule_create, schedule_tags_replace

ROUNDS = 15


@pytest.mark.requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_tag_replaces_of_one_schedule_never_break_the_unique_key() -> None:
    now = timezone.now()
    schedule = schedule_create(
        data={"name": "tagged", "kind": "interval", "interval_hours": 1,
              "start_at": now, "target": "reports.nightly"},
        by=None, now=now, allow_past=True,
    )  # fmt: skip
    errors: list[BaseException] = []

    def replace(barrier: threading.Barrier, value: str) -> None:
        try:
            barrier.wait(timeout=10)
            fresh = Schedule.objects.get(pk=schedule.pk)
            schedule_tags_replace(
                schedule=fresh,
                tags={"team": value, "stage": "prod"},
                by=None,
                now=timezone.now(),
            )
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    for round_number in range(ROUNDS):
        barrier = threading.Barrier(2)
        threads = [
            threading.Thread(target=replace, args=(barrier, f"{name}-{round_number}"))
            for name in ("a", "b")
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

    assert errors == []
    tags: Any = dict(
        ScheduleTag.objects.filter(schedule=schedule).values_list("key", "value")
    )
    assert tags["stage"] == "prod"
    assert tags["team"] in {f"a-{ROUNDS - 1}", f"b-{ROUNDS - 1}"}
