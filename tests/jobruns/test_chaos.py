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

import contextlib
import glob
import json
import os
import shutil
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.db.models import F
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
)
from tests.support.ledger import Expected, expect, ledger_discrepancies
from tests.support.services import (
    CeleryWorkerProcess,
    database_url_for_subprocess,
    service_missing,
    wait_for,
)

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
    # Several runs per message, as in production, but few enough that a tick of
    # a handful of schedules is several messages: some wait on the broker when
    # a fault hits, some are being worked through.
    "JOBRUN_RUNS_PER_MESSAGE": "2",
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
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        return {**PROCESS_ENV, **self.extra_env, "CELERY_BROKER_URL": self.broker_url}

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
        return self.start(workers=0, beats=1)[1][0]

    def start(
        self, *, workers: int = 1, beats: int = 1, concurrency: int = 4
    ) -> tuple[list[CeleryWorkerProcess], list[CeleryBeatProcess]]:
        """Start beats and workers side by side (each takes seconds to boot)."""
        started = [
            CeleryBeatProcess(
                database_url=database_url_for_subprocess(), extra_env=self.env()
            )
            for _ in range(beats)
        ]
        for beat in started:
            beat.launch()
        self.beats += started
        running = [self.start_worker(concurrency) for _ in range(workers)]
        for beat in started:
            beat.wait_until_started()
        return running, started

    def schedule(
        self, name: str, *, seconds: float = 0.3, tag: str = "", **fields: Any
    ) -> Schedule:
        """An interval schedule of chaos.record, first fire on a whole second."""
        now = timezone.now()
        data: dict[str, Any] = {
            "name": name,
            "kind": "interval",
            "interval_seconds": 2,
            "start_at": now.replace(microsecond=0) + timedelta(seconds=2),
            "target": chaos_jobs.NAME,
            "input": {"log": str(self.effects), "seconds": seconds, "tag": tag},
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
        # On timeout the ledger names whatever is still active.
        with contextlib.suppress(AssertionError):
            wait_for(
                lambda: not JobRun.objects.filter(status__in=JobRun.ACTIVE).exists(),
                timeout,
                "every run to end",
                every=0.3,
            )
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
        # A fault must be survived, not only outlasted: a beat that died of it
        # (not killed by the test) is a finding even when the fires came out right.
        problems += [
            f"{beat.name} ended with an exception"
            for beat in self.beats
            if "beat raised exception" in beat.log_path.read_text(errors="replace")
        ]
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
def broker() -> Iterator[PrivateRedis]:
    """A Redis of the test's own as the broker: no message left over by another
    test (a killed worker leaves some) reaches this one, and it may be broken."""
    if shutil.which("redis-server") is None:
        service_missing("needs redis-server on PATH (apt-get install redis-server)")
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def chaos(broker: PrivateRedis, tmp_path: Path) -> Iterator[Chaos]:
    """The test's processes on its own broker; stopped after the test."""
    _reaper_every_second()
    made = Chaos(effects=tmp_path / "effects.log", broker_url=broker.url)
    yield made
    made.stop()


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


def _just_after_a_fire(chaos: Chaos, delay: float = 0.3) -> None:
    """Sleep until `delay` s after the next fire of the first schedule: the
    moment its messages are on the broker and its runs are starting."""
    first = Schedule.objects.get(pk=chaos.schedules[0].pk)
    wait = (first.next_run_at - timezone.now()).total_seconds() + delay
    time.sleep(max(0.0, wait))


def _running(count: int) -> None:
    """Wait until `count` runs are executing: the fault must hit running runs."""
    wait_for(
        lambda: JobRun.objects.filter(status=Status.IN_PROGRESS).count() >= count,
        10,
        f"{count} runs in progress",
        every=0.05,
    )


def _messages_waiting(broker: PrivateRedis) -> None:
    """Wait until run messages wait on the broker's `runs` queue (a Redis list)."""
    import redis

    client = redis.Redis.from_url(broker.url)
    wait_for(lambda: client.llen("runs") > 0, 10, "messages on the broker", 0.01)


def _resent() -> int:
    """Runs whose message was sent again (by the reaper) after the first time."""
    return JobRun.objects.filter(sent_at__gt=F("queued_at")).count()


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
@pytest.mark.parametrize("target", ["main and pool", "main only"])
def test_a_worker_killed_with_sigkill_loses_no_fire_and_runs_nothing_twice(
    chaos: Chaos, target: str
) -> None:
    (worker,), _ = chaos.start()
    for i in range(6):
        chaos.schedule(f"kill-worker-{i}", seconds=0.5)
    _running(2)
    _pause(2)

    _running(1)
    try:
        if target == "main and pool":
            worker.kill(signal.SIGKILL)
        else:  # the pool processes are orphaned mid-run
            os.kill(worker.pid, signal.SIGKILL)
            worker.process.wait(10)
        _pause(3)  # fires keep coming with no worker at all
        chaos.start_worker()
        _pause(4)
        until = chaos.quiesce()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)  # orphans, if any

    _assert_clean(chaos.ledger(until=until, worker_lost_allowed=True))
    assert worker.process.returncode == -signal.SIGKILL
    lost = JobRun.objects.filter(error__startswith="worker lost")
    if target == "main and pool":
        assert lost.exists(), "the kill hit no running run"
    assert all(run.retries.filter(status=Status.SUCCEEDED).exists() for run in lost)


def test_a_pool_child_killed_with_sigkill_ends_its_run_lost_and_retries_it_once(
    chaos: Chaos,
) -> None:
    (worker,), _ = chaos.start(concurrency=3)
    for i in range(6):
        chaos.schedule(f"kill-child-{i}", seconds=1.5)
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
    # Small batches, so the three really share the due schedules: with the
    # default batch of 500 the first to lock takes all 16 at every tick.
    chaos.extra_env["SCHEDULER_DISPATCH_BATCH_SIZE"] = "2"
    chaos.start(beats=3)
    for i in range(16):
        chaos.schedule(f"race-{i}", seconds=0)
    _pause(10)

    until = chaos.quiesce()
    _assert_clean(chaos.ledger(until=until))
    dispatched = [beat.log().count("dispatched") for beat in chaos.beats]
    assert sum(1 for count in dispatched if count) >= 2, dispatched


# --- Redis ------------------------------------------------------------------------
def test_a_broker_emptied_by_flushall_loses_no_fire_and_runs_nothing_twice(
    chaos: Chaos, broker: PrivateRedis
) -> None:
    chaos.start()
    # Twelve runs per tick, two per message, on four slots: two messages wait
    # on the broker for about a second of every tick when the fault hits.
    for i in range(12):
        chaos.schedule(f"flush-{i}", seconds=0.5)
    _pause(2)
    _messages_waiting(broker)

    broker.flushall()
    _pause(9)  # past JOBRUN_REQUEUE_AFTER_SECONDS: the reaper re-sends

    until = chaos.quiesce()
    _assert_clean(chaos.ledger(until=until))
    assert _resent() > 0, "the flush took no message with it"


def test_a_broker_restarted_empty_loses_no_fire_and_runs_nothing_twice(
    chaos: Chaos, broker: PrivateRedis
) -> None:
    chaos.start()
    # Twelve runs per tick, two per message, on four slots: two messages wait
    # on the broker for about a second of every tick when the fault hits.
    for i in range(12):
        chaos.schedule(f"restart-{i}", seconds=0.5)
    _pause(2)
    _messages_waiting(broker)

    broker.restart(down_seconds=2)
    _pause(9)

    until = chaos.quiesce()
    _assert_clean(chaos.ledger(until=until))
    assert _resent() > 0, "the restart took no message with it"


# --- PostgreSQL ---------------------------------------------------------------------
def test_a_postgresql_restart_loses_no_fire_and_runs_nothing_twice(
    chaos: Chaos,
) -> None:
    if not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        service_missing("needs PostgreSQL's initdb under /usr/lib/postgresql/*/bin")
    server = PrivatePostgres()
    try:
        server.start()
        url = server.copy_database(
            source_url=database_url_for_subprocess(), name="chaos"
        )
        with default_database_at(url):
            chaos.start()
            for i in range(6):
                chaos.schedule(f"pg-{i}", seconds=1.0)
            _pause(2)
            _just_after_a_fire(chaos, delay=0.1)
            _running(2)

            server.restart()
            connection.close()
            _pause(9)

            until = chaos.quiesce()
            problems = chaos.ledger(until=until)
            chaos.stop()
    finally:
        server.stop()
    _assert_clean(problems)


# --- the dispatcher down ------------------------------------------------------------
def test_beat_down_past_the_catch_up_window_applies_each_missed_fire_policy(
    chaos: Chaos,
) -> None:
    _, (beat,) = chaos.start()
    policies = ("run_once", "skip", "run_all")
    for policy in policies:
        chaos.schedule(f"missed-{policy}", interval_seconds=1, seconds=0,
                       missed_policy=policy, catchup_window_seconds=4)  # fmt: skip
    _pause(3)

    beat.stop()
    stopped = timezone.now()
    _pause(9)  # more than twice the catch-up window
    chaos.start_beat()
    _pause(3)

    until = chaos.quiesce()
    _assert_clean(chaos.ledger(until=until))
    outcome = {name: _restart_dispatch(f"missed-{name}", stopped) for name in policies}
    # What each policy promises, on top of the ledger's fire-by-fire check:
    assert outcome["skip"]["catchup"] == 0, outcome
    assert outcome["skip"]["dropped"] >= 6, outcome
    assert outcome["run_once"]["runs"] == 1, outcome
    assert outcome["run_once"]["dropped"] >= 6, outcome
    assert outcome["run_all"]["catchup"] >= 1, outcome
    assert outcome["run_all"]["dropped_reason"] == "outside_window", outcome


def _restart_dispatch(name: str, stopped: datetime) -> dict[str, Any]:
    """What the first dispatch after the outage made for schedule `name`."""
    fires = JobRun.objects.filter(schedule_name=name, trigger__in=JobRun.FIRE_TRIGGERS)
    first = fires.filter(queued_at__gt=stopped).earliest("queued_at").queued_at
    group = list(fires.filter(queued_at=first))
    dropped = [run for run in group if run.skip_reason in ("missed", "outside_window")]
    return {
        "runs": sum(1 for run in group if run.status != Status.SKIPPED),
        "catchup": sum(1 for run in group if run.trigger == "catchup"),
        "dropped": sum(run.skipped_count for run in dropped),
        "dropped_reason": ",".join(run.skip_reason for run in dropped),
    }


# --- a schedule changed under the dispatcher ---------------------------------------
def test_a_schedule_edited_paused_or_deleted_while_due_does_what_was_asked(
    chaos: Chaos,
) -> None:
    _, (beat,) = chaos.start()
    edited = chaos.schedule("due-edited")
    paused = chaos.schedule("due-paused")
    deleted = chaos.schedule("due-deleted")
    steady = chaos.schedule("due-steady")
    _pause(4)
    beat.stop()
    stopped = timezone.now()
    _pause(3)
    changed_at = timezone.now()
    assert Schedule.objects.filter(next_run_at__lte=changed_at).count() == 4

    edited_now = schedule_update(schedule=edited, data={"interval_seconds": 3},
                                 by=None, now=changed_at)  # fmt: skip
    schedule_pause(schedule=paused, by=None, now=changed_at)
    schedule_delete(schedule=deleted, by=None)
    chaos.start_beat()
    _pause(5)

    until = chaos.quiesce()
    # Fires from shortly before beat stopped to the change were due, not yet
    # dispatched, when the schedule changed: the change decides their fate.
    due_since = stopped - timedelta(seconds=ON_TIME_SECONDS)
    ended = {"until": changed_at, "optional_after": due_since}
    expected = [
        expect(edited, **ended),
        expect(edited_now, since=changed_at, until=until,
               optional_after=until - timedelta(seconds=ON_TIME_SECONDS)),
        expect(paused, **ended),
        expect(deleted, **ended),
        chaos.owed(steady, until=until),
    ]  # fmt: skip
    _assert_clean(chaos.ledger(expected, until=until))
    after = JobRun.objects.filter(queued_at__gt=stopped)
    assert not after.filter(schedule_name__in=["due-paused", "due-deleted"]).exists()
    assert not after.filter(schedule_name="due-edited", scheduled_for__lte=changed_at)
    assert after.filter(schedule_name="due-edited").exists(), "the new timing fires"
    assert JobRun.objects.filter(schedule_name="due-steady", trigger="catchup").exists()


def test_a_schedule_edited_paused_or_deleted_while_its_run_is_in_progress(
    chaos: Chaos,
) -> None:
    # One message per run: the three runs of a tick must be in progress together.
    chaos.extra_env["JOBRUN_RUNS_PER_MESSAGE"] = "1"
    chaos.start()
    names = ("busy-edited", "busy-paused", "busy-deleted")
    for name in names:
        chaos.schedule(name, interval_seconds=4, seconds=2.5, tag="before")
    wait_for(lambda: JobRun.objects.filter(status=Status.IN_PROGRESS).count() == 3,
             20, "a run of each schedule in progress")  # fmt: skip
    running = {run.schedule_name: run.pk for run in JobRun.objects.filter(
        status=Status.IN_PROGRESS)}  # fmt: skip
    edited, paused, deleted = (Schedule.objects.get(name=name) for name in names)

    changed_at = timezone.now()
    new_input = {**edited.input, "tag": "after"}
    schedule_update(schedule=edited, data={"input": new_input}, by=None, now=changed_at)
    schedule_pause(schedule=paused, by=None, now=changed_at)
    schedule_delete(schedule=deleted, by=None)
    _pause(7)

    until = chaos.quiesce()
    expected = [
        chaos.owed(edited, until=until),
        expect(paused, until=changed_at),
        expect(deleted, until=changed_at),
    ]
    _assert_clean(chaos.ledger(expected, until=until))
    ended = JobRun.objects.in_bulk(list(running.values()))
    assert {run.status for run in ended.values()} == {Status.SUCCEEDED}
    assert ended[running["busy-deleted"]].schedule_id is None
    tags = {line["run"]: line["tag"] for line in chaos.effect_lines()}
    edited_runs = JobRun.objects.filter(schedule_name="busy-edited").order_by("pk")
    assert [tags[run.pk] for run in edited_runs] == ["before"] + ["after"] * (
        len(edited_runs) - 1
    )


def test_schedules_deleted_at_their_fire_instant_while_beat_dispatches_them(
    chaos: Chaos,
) -> None:
    chaos.start()
    doomed = [chaos.schedule(f"race-delete-{i}", seconds=0) for i in range(12)]
    _pause(2)
    _just_after_a_fire(chaos, delay=-0.05)  # beat is about to dispatch them

    refused: list[str] = []
    expected: list[Expected] = []
    for schedule in doomed:
        try:
            schedule_delete(schedule=schedule, by=None)
        except Exception as exc:  # the test reports any refusal, whatever it is
            refused.append(f"{schedule.name}: {type(exc).__name__}: {exc}")
        # The fire being dispatched as the delete came may or may not run.
        deleted_at = timezone.now()
        expected.append(expect(schedule, until=deleted_at, optional_after=(
            deleted_at - timedelta(seconds=ON_TIME_SECONDS))))  # fmt: skip
    _pause(2)

    until = chaos.quiesce()
    problems = chaos.ledger(expected, until=until)
    assert refused == [], "\n".join(refused)
    _assert_clean(problems)
    assert not Schedule.objects.filter(name__startswith="race-delete-").exists()
    assert not JobRun.objects.filter(
        schedule_name__startswith="race-delete-", schedule__isnull=False
    ).exists()
