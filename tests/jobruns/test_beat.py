"""The dispatcher's sleep: ended early by a change to the schedules (PostgreSQL)."""

from __future__ import annotations

import threading

import pytest
from django.utils import timezone

from jobruns.beat import _Wakeup
from schedules.services import schedule_create, schedule_pause


@pytest.mark.requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_new_schedule_ends_the_dispatchers_sleep_and_quiet_does_not() -> None:
    wakeup = _Wakeup()
    woke: list[bool] = []
    try:
        assert wakeup.wait(0.05) is False, "nothing changed: it slept"
        sleeper = threading.Thread(target=lambda: woke.append(wakeup.wait(60)))
        sleeper.start()

        schedule = schedule_create(
            data={"name": "soon", "kind": "interval", "interval_seconds": 5,
                  "target": "core.echo"},
            by=None, now=timezone.now(),
        )  # fmt: skip
        sleeper.join(timeout=70)

        assert woke == [True], "woken by the commit, not by the 60 s timeout"
        schedule_pause(schedule=schedule, by=None, now=timezone.now())
        assert wakeup.wait(60) is True, "a pause changes what is due too"
    finally:
        wakeup.close()
