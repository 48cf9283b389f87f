"""The dispatcher: turn due schedules into runs, exactly once per fire time.

Called by the beat scheduler (`jobruns.beat`) on every tick. Each batch is one
short transaction holding row locks on the schedules it handles; the runs it
creates and the schedules' next fire are committed together, and tasks are sent
only after commit.

A batch is set-based: whatever its size (hundreds of schedules) it costs the
same statements: lock the due rows (SKIP LOCKED), read the in-progress runs of
the schedules whose overlap policy counts them (one grouped query), plan every
fire in Python, write every row with one `INSERT ... ON CONFLICT DO NOTHING
RETURNING`, let adapters add their input context (one query), and move every
next_run_at with one UPDATE through `schedules.services`. The UNIQUE(schedule,
scheduled_for) constraint stays the guarantee against a doubled fire.

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
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from jobruns.fires import (
    fire_mark_overlap,
    fire_mark_replaced,
    fire_queued,
    fire_refused,
    fire_skipped,
    fire_validate,
    jobrun_insert_fires,
)
from jobruns.models import JobRun
from jobruns.services import jobrun_cancel

if TYPE_CHECKING:
    from schedules.models import Schedule

logger = logging.getLogger(__name__)

Trigger = JobRun.Trigger
SkipReason = JobRun.SkipReason
# Walking more missed fires than this one by one is pointless: they are only
# counted, and a per-second schedule down for a week would walk 600,000.
MAX_WALKED_FIRES = 1000
MAX_BATCHES = 1000
# Full batches on beat's own connection before more connections join: helpers
# are a thread and a connection each, made per backlog, so a steady load of a
# batch or two per tick never pays for them.
BATCHES_BEFORE_HELPERS = 2
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


def dispatch_due(*, now: datetime, batch_size: int | None = None) -> int:
    """Create the runs of every schedule due by `now`; returns how many were queued.

    Cost grows with the number of due schedules only (one indexed query per
    batch), never with the size of the schedule table; a batch costs the same
    handful of statements whether it holds 10 schedules or 500. A backlog
    (the first BATCHES_BEFORE_HELPERS batches came back full) is worked by up to
    SCHEDULER_DISPATCH_CONNECTIONS connections at once, see `_dispatch_backlog`.
    """
    # Schedules per transaction (SCHEDULER_DISPATCH_BATCH_SIZE): each batch costs
    # a constant number of statements, so bigger is cheaper per fire, until row
    # locks are held for too long.
    batch_size = batch_size or settings.SCHEDULER_DISPATCH_BATCH_SIZE
    queued, done = _dispatch_batches(
        due_by=now, batch_size=batch_size, most=BATCHES_BEFORE_HELPERS
    )
    if done:
        return queued
    return queued + _dispatch_backlog(due_by=now, batch_size=batch_size)


def _dispatch_batches(
    *, due_by: datetime, batch_size: int, most: int = MAX_BATCHES
) -> tuple[int, bool]:
    """Up to `most` batches, until one comes back short: (runs queued, whether
    one came back short, i.e. nothing due is left)."""
    queued = 0
    for _ in range(most):
        handled, batch_queued = _dispatch_batch(due_by=due_by, batch_size=batch_size)
        queued += batch_queued
        if handled < batch_size:
            return queued, True
    return queued, False


def _dispatch_backlog(*, due_by: datetime, batch_size: int) -> int:
    """The rest of a backlog, on this connection and SCHEDULER_DISPATCH_CONNECTIONS
    - 1 more, each in a thread of its own taking batches until none is left.

    A batch's time is half Python (planning, building rows) and half waiting
    on PostgreSQL (its statements and commit); on one connection the two take
    turns. With two, one batch plans while another's statements run, and the
    batches stay independent: each locks its own rows (SKIP LOCKED), as two
    dispatchers' do. Only on PostgreSQL (SQLite has one writer) and never when
    called inside a transaction: the helpers' connections could not see its
    uncommitted rows. A helper's UPDATE of next_run_at comes from another
    database backend, so beat's listener wakes once more after a backlog.
    """
    from django.db import connection, connections

    helpers = settings.SCHEDULER_DISPATCH_CONNECTIONS - 1

    def batches() -> int:
        return _dispatch_batches(due_by=due_by, batch_size=batch_size)[0]

    if helpers < 1 or connection.vendor != "postgresql" or connection.in_atomic_block:
        return batches()

    def helper() -> int:
        try:
            return batches()
        finally:
            connections.close_all()  # this thread's own connections only

    with ThreadPoolExecutor(helpers, thread_name_prefix="dispatch") as pool:
        started = [pool.submit(helper) for _ in range(helpers)]
        return batches() + sum(future.result() for future in started)


@dataclass
class _Due:
    """One locked schedule of a batch: its plan and where its next_run_at goes."""

    schedule: Schedule
    plan: Plan
    next_run_at: datetime | None


@dataclass
class _Active:
    """Runs of one schedule not ended yet, as the overlap policy counts them."""

    queued: int = 0
    running: int = 0

    @property
    def total(self) -> int:
        return self.queued + self.running


def _dispatch_batch(*, due_by: datetime, batch_size: int) -> tuple[int, int]:
    from schedules.models import Schedule
    from schedules.services import schedule_advance_many

    with transaction.atomic():
        # FOR UPDATE SKIP LOCKED: a second dispatcher (two beats during a
        # deploy) takes other due schedules instead of waiting on, or firing
        # again, the ones this transaction holds. The lock lasts until commit,
        # when next_run_at has moved past `now`; run now and retries lock the
        # same row, so the overlap state read below cannot change under us.
        # SQLite ignores it; there one writer at a time gives the guarantee.
        locked = list(
            Schedule.objects.select_for_update(skip_locked=True)
            .filter(is_paused=False, next_run_at__lte=due_by)
            .order_by("next_run_at")[:batch_size]
        )
        if not locked:
            return 0, 0
        # Fires are judged at the moment their batch is taken, so a fire made
        # late by the batches before it is seen as late. The selection keeps
        # the tick's `due_by`, so a busy tick still ends. Never before
        # `due_by`: tests (and a caller that knows better) pin it ahead.
        now = max(due_by, timezone.now())
        due = [_plan(schedule, now=now) for schedule in locked]
        active = _active_runs(due)
        _replace_running(due, active, now=now)
        rows = [row for item in due for row in _rows(item, active, now=now)]
        inserted = jobrun_insert_fires(runs=rows, now=now)
        schedule_advance_many(
            next_runs={item.schedule.pk: item.next_run_at for item in due}
        )
    return len(due), sum(run.status == JobRun.Status.QUEUED for run in inserted)


def _plan(schedule: Schedule, *, now: datetime) -> _Due:
    from schedules.timing import TimingError

    try:
        fires, more, following = _due_fires(schedule, now=now)
    except TimingError as exc:
        # A row the timing engine cannot read would be selected on every tick;
        # stop it (the schedule's page shows no next run) and say why.
        logger.error("schedule %s cannot be timed: %s", schedule.name, exc)
        return _Due(schedule, Plan(), None)
    plan = plan_fires(
        fires,
        now=now,
        policy=schedule.missed_policy,
        window_seconds=schedule.catchup_window_seconds,
        on_time_seconds=settings.SCHEDULER_ON_TIME_SECONDS,
    )
    plan.more_dropped = more
    # Bounds and interval repeats (the only kind with repeats) are applied by
    # next_fire_after, so a finished schedule gets None here.
    return _Due(schedule, plan, following)


def _counts_overlap(schedule: Schedule) -> bool:
    return schedule.overlap_policy != "allow" or bool(schedule.max_parallel)


def _active_runs(due: list[_Due]) -> dict[int, _Active]:
    """Queued and in-progress runs per schedule: ONE query for the batch."""
    ids = [
        item.schedule.pk
        for item in due
        if item.plan.run and _counts_overlap(item.schedule)
    ]
    active: dict[int, _Active] = defaultdict(_Active)
    if not ids:
        return active
    for schedule_id, status, n in _active_counts(ids):
        if status == JobRun.Status.QUEUED:
            active[schedule_id].queued = n
        else:
            active[schedule_id].running = n
    return active


def _active_counts(schedule_ids: list[int]) -> list[tuple[int, str, int]]:
    """(schedule id, status, runs) of the schedules' queued and running runs.

    On PostgreSQL one probe per schedule into `jobrun_active_idx`, by hand: the
    plain grouped query (`schedule_id = ANY(...) AND status IN (...)`) is
    planned on statistics taken before a burst, which say queued runs are rare,
    so PostgreSQL answered it by reading every queued run of the burst through
    the status index, once per batch (15-35 ms a batch at 10,000 queued, more
    at 100,000). Here each schedule is its own lateral lookup (`OFFSET 0` keeps
    it one, not a join the planner may turn back into that scan), and for
    `schedule_id = X AND status IN (...)` the partial index is the cheapest
    path whatever the statistics say.
    """
    from django.db import connection

    if connection.vendor != "postgresql":
        return list(
            JobRun.objects.filter(
                schedule_id__any_of=schedule_ids, status__any_of=JobRun.ACTIVE
            )
            .order_by()
            .values_list("schedule_id", "status")
            .annotate(n=Count("pk"))
        )
    with connection.cursor() as cursor:
        cursor.execute(active_counts_statement(), [schedule_ids])
        return cursor.fetchall()


def active_counts_statement() -> str:
    """`_active_counts` on PostgreSQL; one parameter, the schedule ids (a list)."""
    from django.db import connection

    table = connection.ops.quote_name(JobRun._meta.db_table)
    # The statuses are written out, not parameters: the partial index's
    # condition must be provable from the query's text.
    return (
        "SELECT s.id, r.status, count(*) FROM unnest(%s::bigint[]) AS s(id) "  # noqa: S608
        f"CROSS JOIN LATERAL (SELECT status FROM {table} WHERE schedule_id = s.id "
        "AND status IN ('queued', 'in_progress') OFFSET 0) AS r "
        "GROUP BY s.id, r.status"
    )


def _replace_running(
    due: list[_Due], active: dict[int, _Active], *, now: datetime
) -> None:
    """Overlap `replace`: cancel the runs a new fire replaces (rare; per run)."""
    ids = [
        item.schedule.pk
        for item in due
        if item.plan.run
        and item.schedule.overlap_policy == "replace"
        and active[item.schedule.pk].total
    ]
    if not ids:
        return
    running = JobRun.objects.filter(schedule_id__in=ids, status__in=JobRun.ACTIVE)
    for run in running:
        jobrun_cancel(run=run, by="replaced by a newer run", now=now)
    for schedule_id in ids:
        active[schedule_id] = _Active()


def _rows(item: _Due, active: dict[int, _Active], *, now: datetime) -> list[JobRun]:
    """The rows one schedule's plan writes, overlap applied fire by fire."""
    schedule, plan = item.schedule, item.plan
    rows = [_dropped_row(schedule, plan, now=now)] if plan.dropped else []
    try:
        fire_validate(schedule)
    except ValidationError as exc:
        return rows + [
            fire_refused(schedule, at, error=exc, now=now) for at, _ in plan.run
        ]
    state = active[schedule.pk]
    queued: list[JobRun] = []
    for at, trigger in plan.run:
        run = fire_queued(schedule, at, trigger=trigger, now=now)
        if schedule.overlap_policy == "replace":
            for older in queued:
                fire_mark_replaced(older, now=now)
            queued = [run]
        elif _refused(schedule, state):
            fire_mark_overlap(run, now=now)
        else:
            state.queued += 1
            queued.append(run)
        rows.append(run)
    return rows


def _refused(schedule: Schedule, state: _Active) -> bool:
    """Whether the overlap policy refuses one more queued run (asked by nobody)."""
    policy = schedule.overlap_policy
    if policy == "skip":
        return state.total > 0
    if policy == "queue_one":
        return state.queued > 0
    return bool(schedule.max_parallel) and state.total >= (schedule.max_parallel or 0)


def _due_fires(
    schedule: Schedule, *, now: datetime
) -> tuple[list[datetime], bool, datetime | None]:
    """Fires from next_run_at up to now, oldest first; True if some were jumped;
    the first fire after now (the next_run_at to store), None when none is left.

    The walk ends on the first fire after the last due one: no fire lies
    between them, so it is also the first fire after `now`, and a schedule
    costs one timing computation per due fire, not one more for its next run.
    """
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
    return fires, jumped, at


def _dropped_row(schedule: Schedule, plan: Plan, *, now: datetime) -> JobRun:
    """ONE skipped row for all the fires of `plan` that do not run."""
    first, last = plan.dropped[0], plan.dropped[-1]
    count = len(plan.dropped)
    note = (
        f"{'at least ' if plan.more_dropped else ''}{count} fire(s) from "
        f"{first:%Y-%m-%d %H:%M:%S} to {last:%Y-%m-%d %H:%M:%S} UTC were not run: "
        f"dispatched late (missed-fire policy {schedule.missed_policy}, catch-up "
        f"window {schedule.catchup_window_seconds} s)"
    )
    return fire_skipped(
        schedule, first, reason=plan.reason, count=count, note=note, now=now
    )


def next_due_at() -> datetime | None:
    """The earliest next_run_at of an active schedule (the partial index answers)."""
    from schedules.models import Schedule

    return (
        Schedule.objects.filter(is_paused=False, next_run_at__isnull=False)
        .order_by("next_run_at")
        .values_list("next_run_at", flat=True)
        .first()
    )
