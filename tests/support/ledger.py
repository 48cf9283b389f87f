"""The run ledger check of the chaos tests: what the database says happened.

`ledger_discrepancies` computes, from each schedule's definition, the fire
times it owed within a stretch of time (with `schedules.timing` through
`Schedule.next_fire_after`), and compares them with the JobRun rows and with
the side-effect log the `chaos.record` service writes. It returns sentences,
one per discrepancy; an empty list means: every fire is accounted for exactly
once, in the way the schedule's missed-fire and overlap policies say, every run
that executed did so once, and nothing is left queued or in progress.

How a fire is accounted for: by its own row (trigger scheduled or catchup, at
most one by UNIQUE(schedule, scheduled_for)), or by a `skipped` row of reason
missed/outside_window, which stands for `skipped_count` consecutive fires
starting at its scheduled_for (the dispatcher writes one row per outage).

How the policies are checked: the rows one dispatch made share its instant
(`queued_at` is the `now` of that dispatch). For each such group the check
re-derives, independently of the dispatcher's code, which of the fires due at
that instant the missed-fire policy runs, which it drops and why, and compares.
"""

from __future__ import annotations

import collections
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from jobruns.models import JobRun
from schedules.models import Schedule

Status = JobRun.Status
Trigger = JobRun.Trigger
Reason = JobRun.SkipReason
DROPPED = (Reason.MISSED, Reason.OUTSIDE_WINDOW)
# Fires walked past the end of a definition with no `until`: enough for any test.
HORIZON = timedelta(minutes=10)


@dataclass(frozen=True)
class Expected:
    """The fires one schedule definition owes: those in (since, until].

    `schedule` is a snapshot (timing and policies as they were in that stretch);
    a schedule edited mid-test is two Expected with the same name. Fires after
    `optional_after` may lack a row: the definition ended (paused, edited,
    deleted, the test stopped) before the dispatcher had to reach them.
    """

    schedule: Schedule
    since: datetime
    until: datetime
    optional_after: datetime

    @property
    def name(self) -> str:
        return self.schedule.name

    def fires(self) -> list[datetime]:
        found: list[datetime] = []
        at = self.schedule.next_fire_after(self.since)
        while at is not None and at.at <= self.until:
            found.append(at.at)
            at = self.schedule.next_fire_after(at.at)
        return found


def expect(
    schedule: Schedule,
    *,
    until: datetime,
    since: datetime | None = None,
    optional_after: datetime | None = None,
) -> Expected:
    """What `schedule` (as it is now) owes from its creation (or `since`) to `until`."""
    return Expected(
        schedule=schedule,
        since=since or schedule.created_at,
        until=until,
        optional_after=optional_after or until,
    )


@dataclass
class _Fire:
    at: datetime
    definition: Expected
    rows: list[JobRun]


def ledger_discrepancies(
    expected: Sequence[Expected],
    *,
    on_time_seconds: float,
    effects: Path,
    worker_lost_allowed: bool = False,
) -> list[str]:
    """Every way the run table and the effect log differ from what was owed."""
    problems: list[str] = []
    runs = list(JobRun.objects.order_by("pk"))
    by_name: dict[str, list[Expected]] = collections.defaultdict(list)
    for item in expected:
        by_name[item.name].append(item)
    for name, definitions in by_name.items():
        rows = [
            run
            for run in runs
            if run.schedule_name == name and run.trigger in JobRun.FIRE_TRIGGERS
        ]
        problems += _fire_problems(name, definitions, rows, on_time_seconds)
    problems += _run_problems(runs, by_name, worker_lost_allowed=worker_lost_allowed)
    problems += _effect_problems(runs, _read_effects(effects))
    return problems


# --- every fire exactly once ------------------------------------------------------
def _fire_problems(
    name: str,
    definitions: list[Expected],
    rows: list[JobRun],
    on_time_seconds: float,
) -> list[str]:
    fires = _owed(definitions)
    index = {fire.at: i for i, fire in enumerate(fires)}
    problems: list[str] = []
    for row in rows:
        i = index.get(row.scheduled_for)  # type: ignore[arg-type]
        if i is None:
            problems.append(
                f"{name}: run #{row.pk} for {_t(row.scheduled_for)} is not a fire "
                "the schedule owed (wrong time, or after it was paused/edited/deleted)"
            )
            continue
        covered = row.skipped_count if _is_dropped(row) else 1
        for fire in fires[i : i + covered]:
            fire.rows.append(row)
        if len(fires[i : i + covered]) < covered:
            problems.append(
                f"{name}: skipped row #{row.pk} counts {covered} fires from "
                f"{_t(row.scheduled_for)}, more than were owed"
            )
    for fire in fires:
        if len(fire.rows) > 1:
            ids = ", ".join(f"#{row.pk}" for row in fire.rows)
            problems.append(f"{name}: fire {_t(fire.at)} accounted for twice ({ids})")
        elif not fire.rows and fire.at <= fire.definition.optional_after:
            problems.append(f"{name}: fire {_t(fire.at)} has no run (lost)")
    problems += _policy_problems(name, fires, rows, on_time_seconds)
    return problems


def _owed(definitions: list[Expected]) -> list[_Fire]:
    fires = [
        _Fire(at, definition, [])
        for definition in definitions
        for at in definition.fires()
    ]
    return sorted(fires, key=lambda fire: fire.at)


def _is_dropped(row: JobRun) -> bool:
    return row.status == Status.SKIPPED and row.skip_reason in DROPPED


# --- the missed-fire and overlap policies -----------------------------------------
def _policy_problems(
    name: str, fires: list[_Fire], rows: list[JobRun], on_time_seconds: float
) -> list[str]:
    problems: list[str] = []
    groups: dict[datetime, list[JobRun]] = collections.defaultdict(list)
    for row in rows:
        groups[row.queued_at].append(row)
    for instant, group in sorted(groups.items()):
        handled = [fire for fire in fires if any(row in group for row in fire.rows)]
        if not handled:
            continue
        problems += _group_problems(name, instant, handled, on_time_seconds)
        left = [
            fire
            for fire in fires
            if handled[-1].at < fire.at <= instant
            and fire.definition is handled[-1].definition
        ]
        if left:
            problems.append(
                f"{name}: the dispatch at {_t(instant)} left the due fire "
                f"{_t(left[0].at)} behind"
            )
    return problems


def _group_problems(
    name: str, instant: datetime, handled: list[_Fire], on_time_seconds: float
) -> list[str]:
    """Compare one dispatch's decisions with the policy, re-derived here."""
    schedule = handled[-1].definition.schedule
    late_cut = instant - timedelta(seconds=on_time_seconds)
    window_cut = instant - timedelta(seconds=schedule.catchup_window_seconds)
    ats = [fire.at for fire in handled]
    if all(at >= late_cut for at in ats):
        keep = ats
    elif schedule.missed_policy == Schedule.MissedPolicy.SKIP:
        keep = [at for at in ats if at >= late_cut]
    elif schedule.missed_policy == Schedule.MissedPolicy.RUN_ALL:
        keep = [at for at in ats if at >= window_cut]
    else:  # run_once: the latest fire within the catch-up window
        keep = [at for at in ats if at >= window_cut][-1:]
    problems: list[str] = []
    for fire in handled:
        row = fire.rows[0]
        wanted = _wanted_outcome(fire.at, keep, ats, late_cut, window_cut)
        actual = _outcome(row)
        if actual != wanted and not (
            actual == "overlap" and wanted in (Trigger.SCHEDULED, Trigger.CATCHUP)
        ):
            problems.append(
                f"{name}: fire {_t(fire.at)} dispatched at {_t(instant)} "
                f"({schedule.missed_policy}, window {schedule.catchup_window_seconds} "
                f"s) should be {wanted}, is {actual} (run #{row.pk})"
            )
        if actual == "overlap":
            problems += _overlap_problems(name, fire, row)
    return problems


def _wanted_outcome(
    at: datetime,
    keep: list[datetime],
    ats: list[datetime],
    late_cut: datetime,
    window_cut: datetime,
) -> str:
    if at in keep:
        return Trigger.SCHEDULED if at >= late_cut else Trigger.CATCHUP
    dropped = [other for other in ats if other not in keep]
    everything_old = all(other < window_cut for other in dropped)
    return Reason.OUTSIDE_WINDOW if everything_old else Reason.MISSED


def _outcome(row: JobRun) -> str:
    if row.status == Status.SKIPPED:
        return row.skip_reason
    return row.trigger


def _overlap_problems(name: str, fire: _Fire, row: JobRun) -> list[str]:
    schedule = fire.definition.schedule
    policy = schedule.overlap_policy
    if policy in ("skip", "queue_one") or (policy == "allow" and schedule.max_parallel):
        return []
    return [
        f"{name}: fire {_t(fire.at)} skipped for overlap (run #{row.pk}) although "
        f"its overlap policy is {policy} without a limit"
    ]


# --- every run ended, and well ----------------------------------------------------
def _run_problems(
    runs: list[JobRun],
    by_name: dict[str, list[Expected]],
    *,
    worker_lost_allowed: bool,
) -> list[str]:
    problems: list[str] = []
    attempts = collections.Counter(run.retry_of_id for run in runs if run.retry_of_id)
    for run in runs:
        if run.status in JobRun.ACTIVE:
            problems.append(
                f"run #{run.pk} of {run.schedule_name or run.service} is stuck "
                f"{run.status} (queued {_t(run.queued_at)}, "
                f"started {_t(run.started_at)})"
            )
        elif run.status in (Status.SUCCEEDED, Status.SKIPPED):
            continue
        elif worker_lost_allowed and run.error.startswith("worker lost"):
            problems += _retry_problems(run, by_name, attempts)
        else:
            problems.append(
                f"run #{run.pk} of {run.schedule_name or run.service} ended "
                f"{run.status}: {run.error or '(no error)'}"
            )
    return problems


def _retry_problems(
    run: JobRun,
    by_name: dict[str, list[Expected]],
    attempts: collections.Counter[int],
) -> list[str]:
    """A run lost with its worker is retried while its schedule allows."""
    definitions = by_name.get(run.schedule_name)
    if not definitions:
        return []
    max_retries = definitions[-1].schedule.max_retries
    first = run.retry_of_id or run.pk
    if run.attempt > max_retries or attempts[first] >= run.attempt:
        return []
    return [
        f"run #{run.pk} of {run.schedule_name} (attempt {run.attempt}) was lost "
        f"with its worker and not retried (max_retries {max_retries})"
    ]


# --- every execution once -------------------------------------------------------
def _read_effects(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def _effect_problems(
    runs: Iterable[JobRun], effects: list[dict[str, Any]]
) -> list[str]:
    starts: dict[int, list[dict[str, Any]]] = collections.defaultdict(list)
    for effect in effects:
        starts[effect["run"]].append(effect)
    problems: list[str] = []
    known = set()
    for run in runs:
        known.add(run.pk)
        seen = starts.get(run.pk, [])
        if len(seen) > 1:
            pids = ", ".join(str(effect["pid"]) for effect in seen)
            problems.append(
                f"run #{run.pk} of {run.schedule_name} started {len(seen)} times "
                f"(pids {pids})"
            )
        elif run.status == Status.SUCCEEDED and not seen:
            problems.append(f"run #{run.pk} succeeded but its service never ran")
        elif run.status == Status.SKIPPED and seen:
            problems.append(f"run #{run.pk} is skipped but its service ran")
    for run_id in sorted(set(starts) - known):
        problems.append(f"the service ran for run #{run_id}, which has no row")
    return problems


def _t(value: datetime | None) -> str:
    return "-" if value is None else f"{value:%H:%M:%S.%f}"[:-3]
