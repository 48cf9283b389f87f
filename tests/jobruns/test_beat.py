"""The dispatcher's sleep: ended early by a change to the schedules (PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection
from django.utils import timezone
from django_celery_beat.schedulers import DatabaseScheduler

from jobruns import beat
from jobruns.beat import DispatchingScheduler, _Wakeup
from schedules.services import schedule_create, schedule_pause


def _on_another_connection(change: Callable[[], object]) -> None:
    """Run `change` in a thread: Django gives it a database connection of its own."""

    def run() -> None:
        try:
            change()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()


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
        _on_another_connection(
            lambda: schedule_pause(schedule=schedule, by=None, now=timezone.now())
        )
        assert wakeup.wait(60) is True, "a pause changes what is due too"
    finally:
        wakeup.close()


@pytest.mark.requires_postgres
@pytest.mark.django_db(transaction=True)
def test_the_dispatchers_own_change_does_not_wake_it() -> None:
    """Its UPDATE of next_run_at notifies like any change; it knows that one."""
    wakeup = _Wakeup()
    try:
        assert wakeup.wait(0.01) is False, "listening before the change"
        schedule = schedule_create(
            data={
                "name": "mine",
                "kind": "interval",
                "interval_seconds": 5,
                "target": "core.echo",
            },
            by=None,
            now=timezone.now(),
        )  # fmt: skip  (this thread's connection: the dispatcher's own)
        assert wakeup.wait(0.5) is False
        _on_another_connection(
            lambda: schedule_pause(schedule=schedule, by=None, now=timezone.now())
        )
        assert wakeup.wait(60) is True, "another connection's change wakes it"
    finally:
        wakeup.close()


class _OverdueBeat(DispatchingScheduler):
    """Celery's tick as it answered after a database restart: a periodic task
    overdue, so a negative interval."""

    def __init__(self) -> None:  # no app, no database: only `tick` is tried
        pass


def test_an_overdue_periodic_task_neither_ends_beat_nor_skips_the_dispatch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(DatabaseScheduler, "tick", lambda self: -2.5)
    dispatched: list[bool] = []

    def dispatch() -> float:
        dispatched.append(True)
        return 0.02

    monkeypatch.setattr(beat, "dispatch_tick", dispatch)
    # As when the database was down a moment ago: no listener, a plain sleep.
    asleep = _Wakeup()
    asleep._retry_at = float("inf")
    monkeypatch.setattr(beat, "WAKEUP", asleep)

    overdue = _OverdueBeat()
    monkeypatch.setattr(overdue, "should_sync", lambda: False, raising=False)
    assert overdue.tick() == 0, "dispatch again at once: something is due"
    assert dispatched == [True]


def test_the_sleep_takes_a_negative_length_as_the_shortest() -> None:
    wakeup = _Wakeup()
    wakeup._retry_at = float("inf")  # no listener: the plain sleep
    assert wakeup.wait(-1.0) is False
