"""The dispatcher: turn due schedules into runs, exactly once per fire time.

Called by the beat scheduler (`jobruns.beat`) on every tick. Each batch is one
short transaction holding row locks on the schedules it handles; the runs it
creates and the schedules' next fire are committed together, and tasks are sent
only after commit.

Missed fires (the dispatcher was down, or the system was too busy) follow the
schedule's `missed_policy` within its `catchup_window_seconds`:

* a fire dispatched within SCHEDULER_ON_TIME_SECONDS of its instant is on time
  and always runs;
* `skip`: late fires are not run;
* `run_once`: the latest fire within the window runs once (as a catch-up),
  all other late fires are not run;
* `run_all`: every fire within the window runs, oldest first;
* fires older than the window never run.

Fires that do not run are recorded as ONE skipped row carrying their count, so
a week-long outage of a per-second schedule writes one row, not 600,000.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from jobruns.models import JobRun
from jobruns.services import (
    jobrun_enqueue,
    jobrun_record_refused,
    jobrun_record_skipped,
)

if TYPE_CHECKING:
    from schedules.models import Schedule

logger = logging.getLogger(__name__)

Trigger = JobRun.Trigger
SkipReason = JobRun.SkipReason
# Walking more missed fires than this one by one is pointless: they are only
# counted, and a per-second schedule down for a week would walk 600,000.
MAX_WALKED_FIRES = 1000
MAX_BATCHES = 1000
_TICK = timedelta(microseconds=1)


@dataclass
class Plan:
    """What to do with the due fires of one schedule."""

    run: Sequence[tuple[datetime, str]] = field(default_factory=list)
    dropped: list[datetime] = field(default_factory=list)
    reason: str = SkipReason.MISSED
    more_dropped: bool = False


def plan_fires(
    fires: list[datetime],
    *,
    now: datetime,
    policy: str,
    window_seconds: int,
    on_time_seconds: int,
) -> Plan:
    """Apply the missed-fire policy to `fires` (oldest first, all <= now)."""
    late_cut = now - timedelta(seconds=on_time_seconds)
    window_cut = now - timedelta(seconds=window_seconds)
    on_time = [at for at in fires if at >= late_cut]
    late = [at for at in fires if at < late_cut]
    if not late:
        return Plan(run=[(at, Trigger.SCHEDULED) for at in on_time])
    if policy == "skip":
        keep = on_time
    elif policy == "run_all":
        keep = [at for at in fires if at >= window_cut]
    else:  # run_once: the latest fire within the window, once
        keep = [at for at in fires if at >= window_cut][-1:]
    kept = set(keep)
    dropped = [at for at in fires if at not in kept]
    reason = (
        SkipReason.OUTSIDE_WINDOW
        if all(at < window_cut for at in dropped)
        else SkipReason.MISSED
    )
    run = [
        (at, Trigger.SCHEDULED if at >= late_cut else Trigger.CATCHUP) for at in keep
    ]
    return Plan(run=run, dropped=dropped, reason=reason)


def dispatch_due(*, now: datetime, batch_size: int = 50) -> int:
    """Create the runs of every schedule due by `now`; returns how many were queued.

    Cost grows with the number of due schedules only (one indexed query per
    batch), never with the size of the schedule table.
    """
    queued = 0
    for _ in range(MAX_BATCHES):
        handled, batch_queued = _dispatch_batch(now=now, batch_size=batch_size)
        queued += batch_queued
        if handled < batch_size:
            break
    return queued


def _dispatch_batch(*, now: datetime, batch_size: int) -> tuple[int, int]:
    from schedules.models import Schedule

    with transaction.atomic():
        # FOR UPDATE SKIP LOCKED: a second dispatcher (two beats during a
        # deploy) takes other due schedules instead of waiting on, or firing
        # again, the ones this transaction holds. The lock lasts until commit,
        # when next_run_at has moved past `now`. SQLite ignores it; there one
        # writer at a time (BEGIN IMMEDIATE) gives the same guarantee.
        due = list(
            Schedule.objects.select_for_update(skip_locked=True)
            .filter(is_paused=False, next_run_at__lte=now)
            .order_by("next_run_at")[:batch_size]
        )
        queued = sum(_dispatch_schedule(schedule, now=now) for schedule in due)
    return len(due), queued


def _dispatch_schedule(schedule: Schedule, *, now: datetime) -> int:
    from schedules.timing import TimingError

    try:
        fires, more = _due_fires(schedule, now=now)
        following = schedule.next_fire_after(now)
    except TimingError as exc:
        # A row the timing engine cannot read would be selected on every tick;
        # stop it (the schedule's page shows no next run) and say why.
        logger.error("schedule %s cannot be timed: %s", schedule.name, exc)
        type(schedule).objects.filter(pk=schedule.pk).update(next_run_at=None)
        return 0
    plan = plan_fires(
        fires,
        now=now,
        policy=schedule.missed_policy,
        window_seconds=schedule.catchup_window_seconds,
        on_time_seconds=settings.SCHEDULER_ON_TIME_SECONDS,
    )
    plan.more_dropped = more
    if plan.dropped:
        _record_dropped(schedule, plan, now=now)
    queued = sum(_fire(schedule, at, trigger, now=now) for at, trigger in plan.run)
    # Bounds and interval repeats (the only kind with repeats) are applied by
    # next_fire_after, so a finished schedule gets None here.
    next_run_at = following.at if following else None
    type(schedule).objects.filter(pk=schedule.pk).update(next_run_at=next_run_at)
    return queued


def _due_fires(schedule: Schedule, *, now: datetime) -> tuple[list[datetime], bool]:
    """Fires from next_run_at up to now, oldest first; True if some were jumped."""
    fires: list[datetime] = []
    at = schedule.next_run_at
    jumped = False
    horizon = now - timedelta(
        seconds=max(schedule.catchup_window_seconds, settings.SCHEDULER_ON_TIME_SECONDS)
    )
    while at is not None and at <= now:
        if len(fires) >= MAX_WALKED_FIRES and at < horizon:
            # Jump over the rest of the outage to the window: those fires
            # would only be counted as dropped.
            jumped = True
            fire = schedule.next_fire_after(horizon - _TICK)
        else:
            fires.append(at)
            fire = schedule.next_fire_after(at)
        at = fire.at if fire else None
    return fires, jumped


def _fire(schedule: Schedule, at: datetime, trigger: str, *, now: datetime) -> int:
    """Create the run for one fire; 1 if it was queued."""
    try:
        with transaction.atomic():
            run = jobrun_enqueue(
                schedule=schedule,
                trigger=trigger,
                by="dispatcher",
                scheduled_for=at,
                now=now,
            )
    except IntegrityError:
        # UNIQUE(schedule, scheduled_for): another dispatcher made this fire's
        # run first. The savepoint drops our INSERT and its on-commit send.
        return 0
    except ValidationError as exc:
        jobrun_record_refused(schedule=schedule, scheduled_for=at, error=exc, now=now)
        return 0
    return 1 if run.status == JobRun.Status.QUEUED else 0


def _record_dropped(schedule: Schedule, plan: Plan, *, now: datetime) -> None:
    first, last = plan.dropped[0], plan.dropped[-1]
    count = len(plan.dropped)
    note = (
        f"{'at least ' if plan.more_dropped else ''}{count} fire(s) from "
        f"{first:%Y-%m-%d %H:%M:%S} to {last:%Y-%m-%d %H:%M:%S} UTC were not run: "
        f"dispatched late (missed-fire policy {schedule.missed_policy}, catch-up "
        f"window {schedule.catchup_window_seconds} s)"
    )
    try:
        with transaction.atomic():
            jobrun_record_skipped(
                schedule=schedule,
                scheduled_for=first,
                reason=plan.reason,
                count=count,
                note=note,
                now=now,
            )
    except IntegrityError:
        pass  # another dispatcher recorded these fires already


def next_due_at() -> datetime | None:
    """The earliest next_run_at of an active schedule (the partial index answers)."""
    from schedules.models import Schedule

    return (
        Schedule.objects.filter(is_paused=False, next_run_at__isnull=False)
        .order_by("next_run_at")
        .values_list("next_run_at", flat=True)
        .first()
    )
