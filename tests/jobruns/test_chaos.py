"""Chaos: real worker and beat processes, a fault injected, then the ledger.

Each test starts `celery worker` and `celery beat` (our dispatching scheduler)
as operators run them, on the test database, schedules a few dozen fast
schedules of the `chaos.record` service, breaks something on purpose, then
pauses every schedule, lets the runs finish and checks the run ledger
(`tests/support/ledger.py`): every fire owed is accounted for exactly once as
the policies say, no run executed twice (the service's own effect log), none
left queued or in progress.

Black-box on purpose: the tests know the processes, the database rows and the
services, not how the dispatcher batches its work.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from jobruns.models import JobRun
from schedules.models import Schedule
from schedules.services import (
    schedule_create,
    schedule_delete,
    schedule_pause,
    schedule_pause_all,
    schedule_update,
)
from tests.support import chaos_jobs
from tests.support.chaos import (
    CeleryBeatProcess,
    PrivatePostgres,
    PrivateRedis,
    default_database_at,
    pool_children,
    wait_for,
)
from tests.support.ledger import Expected, expect, ledger_discrepancies
from tests.support.services import CeleryWorkerProcess, database_url_for_subprocess

Status = JobRun.Status
ON_TIME_SECONDS = 2
# Short timings for the processes, so a fault is noticed and repaired in seconds.
PROCESS_ENV = {
    "JOBRUN_HEARTBEAT_SECONDS": "1",
    "JOBRUN_HEARTBEAT_TIMEOUT_SECONDS": "3",
    "JOBRUN_REQUEUE_AFTER_SECONDS": "6",
    "SCHEDULER_ON_TIME_SECONDS": str(ON_TIME_SECONDS),
    "SCHEDULER_DISPATCH_MAX_SLEEP_MS": "100",
    "SCHEDULER_SERVICE_MODULES": chaos_jobs.__name__,
}

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.requires_postgres,
    pytest.mark.requires_redis,
    pytest.mark.requires_worker,
    pytest.mark.django_db(transaction=True),
]


@dataclass
class Chaos:
    """The processes of one test, its schedules and its effect log."""

    effects: Path
    broker_url: str
    workers: list[CeleryWorkerProcess] = field(default_factory=list)
    beats: list[CeleryBeatProcess] = field(default_factory=list)
    schedules: list[Schedule] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        return {**PROCESS_ENV, "CELERY_BROKER_URL": self.broker_url}

    def start_worker(self, concurrency: int = 4) -> CeleryWorkerProcess:
        worker = CeleryWorkerProcess(
            database_url=database_url_for_subprocess(),
            concurrency=concurrency,
            extra_env=self.env(),
        )
        worker.start()
        self.workers.append(worker)
        return worker

    def start_beat(self) -> CeleryBeatProcess:
        beat = CeleryBeatProcess(
            database_url=database_url_for_subprocess(), extra_env=self.env()
        )
        beat.start()
        self.beats.append(beat)
        return beat

    def schedule(self, name: str, *, seconds: float = 0.3, **fields: Any) -> Schedule:
        """An interval schedule of chaos.record, first fire on a whole second."""
        now = timezone.now()
        data: dict[str, Any] = {
            "name": name,
            "kind": "interval",
            "interval_seconds": 2,
            "start_at": now.replace(microsecond=0) + timedelta(seconds=3),
            "target": chaos_jobs.NAME,
            "input": {"log": str(self.effects), "seconds": seconds},
            "overlap_policy": "allow",
            "missed_policy": "run_all",
            "catchup_window_seconds": 60,
            "max_retries": 1,
            "retry_delay_seconds": 1,
        }
        data.update(fields)
        schedule = schedule_create(data=data, by=None, now=now)
        self.schedules.append(schedule)
        return schedule

    def effect_lines(self) -> list[dict[str, Any]]:
        if not self.effects.exists():
            return []
        return [json.loads(line) for line in self.effects.read_text().splitlines()]

    def quiesce(self, timeout: float = 45) -> datetime:
        """Pause every schedule, let the runs end; the instant of the pause."""
        paused_at = timezone.now()
        schedule_pause_all(by=None, reason="chaos test over", now=paused_at)
        try:
            wait_for(
                lambda: not JobRun.objects.filter(status__in=JobRun.ACTIVE).exists(),
                timeout,
                "every run to end",
                every=0.3,
            )
        except AssertionError:
            pass  # the ledger names whatever is still active
        return paused_at

    def ledger(
        self,
        expected: list[Expected] | None = None,
        *,
        until: datetime,
        worker_lost_allowed: bool = False,
    ) -> list[str]:
        if expected is None:
            expected = [self.owed(schedule, until=until) for schedule in self.schedules]
        problems = ledger_discrepancies(
            expected,
            on_time_seconds=ON_TIME_SECONDS,
            effects=self.effects,
            worker_lost_allowed=worker_lost_allowed,
        )
        fires = JobRun.objects.filter(trigger__in=JobRun.FIRE_TRIGGERS).count()
        print(f"ledger: {fires} fire rows, {len(self.effect_lines())} executions")  # noqa: T201
        for problem in problems:
            print("LEDGER:", problem)  # noqa: T201
        return problems

    @staticmethod
    def owed(schedule: Schedule, *, until: datetime) -> Expected:
        # Fires within ON_TIME_SECONDS of the pause may not have been reached.
        return expect(
            schedule,
            until=until,
            optional_after=until - timedelta(seconds=ON_TIME_SECONDS),
        )

    def stop(self) -> None:
        for beat in self.beats:
            beat.stop()
        for worker in self.workers:
            worker.stop()


@pytest.fixture
def chaos_at(tmp_path: Path) -> Iterator[Callable[[str], Chaos]]:
    """Make a Chaos on a broker; its processes are stopped after the test."""
    made: list[Chaos] = []

    def make(broker_url: str) -> Chaos:
        _reaper_every_second()
        made.append(Chaos(effects=tmp_path / "effects.log", broker_url=broker_url))
        return made[-1]

    yield make
    for chaos in made:
        chaos.stop()


@pytest.fixture
def chaos(chaos_at: Callable[[str], Chaos]) -> Chaos:
    """A Chaos on the broker of the test settings."""
    from django.conf import settings

    return chaos_at(settings.CELERY_BROKER_URL)


def _reaper_every_second() -> None:
    """Beat sends the reaper every second (migration 0002 says 5 s; a test flush
    of an earlier transactional test may have removed the row)."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every, _ = IntervalSchedule.objects.get_or_create(every=1, period="seconds")
    PeriodicTask.objects.update_or_create(
        name="System: reap lost runs",
        defaults={"task": "jobruns.reap", "interval": every, "queue": "runs"},
    )


def _pause(seconds: float) -> None:
    time.sleep(seconds)


def _assert_clean(problems: list[str]) -> None:
    assert problems == [], "\n".join(problems)


def _run_of_pid(chaos: Chaos, pids: list[int]) -> tuple[int, int] | None:
    """(run id, pid) of a run executing now in one of `pids`."""
    for line in reversed(chaos.effect_lines()):
        if line["pid"] in pids and (
            JobRun.objects.filter(pk=line["run"], status=Status.IN_PROGRESS).exists()
        ):
            return line["run"], line["pid"]
    return None


# --- worker SIGKILL -----------------------------------------------------------------
def test_a_worker_killed_with_sigkill_loses_no_fire_and_runs_nothing_twice(
    chaos: Chaos,
) -> None:
    for i in range(6):
        chaos.schedule(f"kill-worker-{i}", seconds=0.5)
    worker = chaos.start_worker()
    chaos.start_beat()
    wait_for(lambda: JobRun.objects.filter(status=Status.IN_PROGRESS).count() >= 2,
             20, "runs in progress")  # fmt: skip
    _pause(2)

    in_flight = JobRun.objects.filter(status=Status.IN_PROGRESS).count()
    worker.kill(signal.SIGKILL)
    _pause(3)  # fires keep coming with no worker at all
    chaos.start_worker()
    _pause(6)

    until = chaos.quiesce()
    _assert_clean(chaos.ledger(until=until, worker_lost_allowed=True))
    lost = JobRun.objects.filter(error__startswith="worker lost")
    assert lost.count() >= min(in_flight, 1), "the kill hit no running run"
    assert all(run.retries.filter(status=Status.SUCCEEDED).exists() for run in lost)


def test_a_pool_child_killed_with_sigkill_ends_its_run_lost_and_retries_it_once(
    chaos: Chaos,
) -> None:
    for i in range(6):
        chaos.schedule(f"kill-child-{i}", seconds=1.5)
    worker = chaos.start_worker(concurrency=3)
    chaos.start_beat()
    victim: list[tuple[int, int]] = []

    def find_victim() -> bool:
        found = _run_of_pid(chaos, pool_children(worker.pid))
        victim.extend([found] if found else [])
        return found is not None

    wait_for(find_victim, 20, "a run executing in a pool process")
    run_id, pid = victim[0]
    os.kill(pid, signal.SIGKILL)
    _pause(8)

    until = chaos.quiesce()
    _assert_clean(chaos.ledger(until=until, worker_lost_allowed=True))
    assert worker.process.poll() is None, "the worker's main process survives"
    killed = JobRun.objects.get(pk=run_id)
    assert killed.status == Status.FAILED
    assert killed.error.startswith("worker lost"), killed.error
    assert [(run.attempt, run.status) for run in killed.retries.all()] == [
        (2, Status.SUCCEEDED)
    ]


# --- three dispatchers --------------------------------------------------------------
def test_three_beats_racing_over_the_same_schedules_fire_each_time_once(
    chaos: Chaos,
) -> None:
    for i in range(30):
        chaos.schedule(f"race-{i}", interval_seconds=1, seconds=0.05)
    chaos.start_worker()
    for _ in range(3):
        chaos.start_beat()
    _pause(10)

    until = chaos.quiesce()
    _assert_clean(chaos.ledger(until=until))
    dispatched = [beat.log().count("dispatched") for beat in chaos.beats]
    assert sum(1 for count in dispatched if count) >= 2, dispatched
