"""Writes to schedules, and the next-runs preview every interface shares.

Every function takes `now` from its caller (captured once per operation) and
raises `ValidationError({field: [message]})` for bad input, never a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, QuerySet

from core.audit import Action, audit_diff, audit_record, audit_snapshot
from schedules import timing
from schedules.models import Schedule, ScheduleTag
from schedules.validation import (
    DEFINITION_FIELDS,
    TIMING_FIELDS,
    schedule_validate_definition,
    tags_from_input,
)

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser

    # Who acts; None or an anonymous user is recorded as "the system".
    User = AbstractBaseUser | AnonymousUser | None

__all__ = [
    "PreviewFire",
    "SchedulePreview",
    "schedule_advance_many",
    "schedule_create",
    "schedule_delete",
    "schedule_duplicate",
    "schedule_pause",
    "schedule_pause_all",
    "schedule_preview",
    "schedule_record_run_end",
    "schedule_resume",
    "schedule_resume_all",
    "schedule_run_end_sql",
    "schedule_tag_remove",
    "schedule_tags_replace",
    "schedule_update",
    "schedule_validate_definition",
]

logger = logging.getLogger(__name__)

PREVIEW_MAX = 100  # Conductor caps nextFewSchedules at 5; we allow more (README).
_PAUSE_REASON_MAX = Schedule._meta.get_field("paused_reason").max_length or 500


# --- create / update / delete ---------------------------------------------------------
def schedule_create(
    *, data: Mapping[str, Any], by: User, now: datetime, allow_past: bool = False
) -> Schedule:
    """Validate `data`, save a new schedule with its tags and first next_run_at."""
    schedule = schedule_validate_definition(data=data, now=now, allow_past=allow_past)
    tags = tags_from_input(data.get("tags") or {})
    schedule.created_at = schedule.updated_at = now
    schedule.created_by = schedule.updated_by = _user(by)
    if data.get("is_paused"):
        _set_paused(schedule, by=by, reason=data.get("paused_reason", ""), now=now)
    else:
        schedule.next_run_at = _next_run(schedule, now)
    with transaction.atomic():
        schedule.save(force_insert=True)
        ScheduleTag.objects.bulk_create(
            ScheduleTag(schedule=schedule, key=key, value=value)
            for key, value in tags.items()
        )
        audit_record(
            action=Action.CREATE,
            obj=schedule,
            by=by,
            changes=audit_diff({}, _set_values(_audited(schedule, tags))),
            now=now,
        )
    logger.info("schedule %s created by %s", schedule.name, _who(by))
    return schedule


def schedule_update(
    *,
    schedule: Schedule,
    data: Mapping[str, Any],
    by: User,
    now: datetime,
    allow_past: bool = False,
) -> Schedule:
    """Apply a full or partial `data` and return the saved, fresh schedule.

    next_run_at is recomputed (strictly after `now`) only when a timing field
    changed or the schedule is resumed, so editing a description never moves a
    fire that is already due.
    """
    with transaction.atomic():
        # Lock the row: the dispatcher advances next_run_at / run_count under
        # the same lock, and we must not write back a stale copy of them.
        current = Schedule.objects.select_for_update().get(pk=schedule.pk)
        before = _audited(current, _tags_of(current))
        updated = schedule_validate_definition(
            data=data, now=now, schedule=current, allow_past=allow_past
        )
        changed = [
            name
            for name in DEFINITION_FIELDS
            if getattr(updated, name) != getattr(current, name)
        ]
        changed += _apply_pause_change(updated, data=data, by=by, now=now)
        if not updated.is_paused and (set(changed) & (TIMING_FIELDS | {"is_paused"})):
            updated.next_run_at = _next_run(updated, now)
            changed.append("next_run_at")
        updated.updated_at, updated.updated_by = now, _user(by)
        updated.save(update_fields=[*changed, "updated_at", "updated_by"])
        if "tags" in data:
            _replace_tags(updated, tags_from_input(data["tags"] or {}))
        _audit_change(updated, before, by=by, now=now)
    logger.info("schedule %s updated by %s: %s", updated.name, _who(by), changed)
    return updated


def schedule_delete(*, schedule: Schedule, by: User) -> None:
    """Delete the schedule and its tags (runs follow jobruns' own on_delete)."""
    name = schedule.name
    with transaction.atomic():
        # Lock the schedule's runs, then the schedule, before deleting: the
        # order a worker ending a run takes them (the run, then its counters
        # on the schedule); the other order deadlocks with it. The schedule's
        # lock waits for a dispatcher that may be inserting a run of this fire:
        # after its commit the delete clears that run's link too (else the
        # deferred foreign key fails our commit), and while we hold the lock
        # no dispatcher picks the row up (SKIP LOCKED).
        list(schedule.runs.select_for_update().values_list("pk", flat=True))
        Schedule.objects.select_for_update().filter(pk=schedule.pk).first()
        audit_record(
            action=Action.DELETE,
            obj=schedule,
            by=by,
            changes=audit_diff(_audited(schedule, _tags_of(schedule)), {}),
        )
        schedule.delete()
    logger.info("schedule %s deleted by %s", name, _who(by))


# --- what the dispatcher and the runs write ------------------------------------------
def schedule_advance_many(*, next_runs: Mapping[int, datetime | None]) -> int:
    """Set each schedule's next_run_at (None: finished) in ONE UPDATE; rows changed.

    The dispatcher calls this for a batch whose rows it holds locked (FOR
    UPDATE), so no edit can have moved them meanwhile. On PostgreSQL one
    `UPDATE ... FROM unnest(ids, times)`: bulk_update's `CASE id WHEN ... END`
    builds one Django expression per row, which cost the dispatcher more than
    the statement itself (about 0.3 s of Python per batch of 500). Elsewhere
    bulk_update (one statement per ~500 rows on SQLite), without a savepoint.
    """
    if not next_runs:
        return 0
    from django.db import connection

    if connection.vendor != "postgresql":
        rows = [Schedule(pk=pk, next_run_at=at) for pk, at in next_runs.items()]
        return Schedule.objects.bulk_update(rows, ["next_run_at"])
    table = connection.ops.quote_name(Schedule._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS s SET next_run_at = v.at "  # noqa: S608 (our table name)
            "FROM unnest(%s::bigint[], %s::timestamptz[]) AS v(id, at) "
            "WHERE s.id = v.id",
            [list(next_runs), list(next_runs.values())],
        )
        return cursor.rowcount


def schedule_record_run_end(*, schedule_id: int, started_at: datetime) -> None:
    """Count one more ended run and remember when it started (one UPDATE)."""
    Schedule.objects.filter(pk=schedule_id).update(
        last_run_at=started_at, run_count=F("run_count") + 1
    )


def schedule_run_end_sql(ended: str) -> str:
    """`schedule_record_run_end` as SQL for a run finished in the same statement.

    `ended` names a CTE with the ended runs' schedule_id and started_at. The
    run path writes a run's end and these counters in ONE statement (one round
    trip, one commit per run, see `jobruns.statements`); the UPDATE stays here
    with the other writes to Schedule rows. PostgreSQL only.
    """
    from django.db import connection

    table = connection.ops.quote_name(Schedule._meta.db_table)
    return (
        f"UPDATE {table} AS s SET last_run_at = {ended}.started_at, "  # noqa: S608
        f"run_count = s.run_count + 1 FROM {ended} WHERE s.id = {ended}.schedule_id"
    )


# --- pause / resume -------------------------------------------------------------------
def schedule_pause(
    *, schedule: Schedule, by: User, reason: str = "", now: datetime
) -> bool:
    """Pause; False when it was already paused. A paused schedule has no next run."""
    with transaction.atomic():
        changed = Schedule.objects.filter(pk=schedule.pk, is_paused=False).update(
            **_pause_values(by=by, reason=reason, now=now)
        )
        _refresh(schedule)
        if changed:
            _audit_pause(schedule, by=by, now=now)
    if changed:
        logger.info("schedule %s paused by %s", schedule.name, _who(by))
    return bool(changed)


def schedule_resume(*, schedule: Schedule, by: User, now: datetime) -> bool:
    """Resume; False when it was not paused.

    The next run is the first fire strictly after `now`: fires that fell while
    the schedule was paused are not run (for an interval with repeats they
    still count, since fires are start + k * interval).
    """
    with transaction.atomic():
        changed = _resume_one(schedule.pk, by=by, now=now)
    _refresh(schedule)
    if changed:
        logger.info("schedule %s resumed by %s", schedule.name, _who(by))
    return changed


def schedule_pause_all(
    *,
    by: User,
    reason: str = "",
    now: datetime,
    queryset: QuerySet[Schedule] | None = None,
) -> int:
    """Pause every active schedule (or those in `queryset`); return how many."""
    schedules = Schedule.objects.all() if queryset is None else queryset
    with transaction.atomic():
        # Locked, so the rows recorded as paused are exactly the rows updated.
        active = list(
            Schedule.objects.select_for_update().filter(
                pk__in=schedules.filter(is_paused=False).values("pk")
            )
        )
        count = Schedule.objects.filter(pk__in=[s.pk for s in active]).update(
            **_pause_values(by=by, reason=reason, now=now)
        )
        for schedule in active:
            _refresh(schedule)
            _audit_pause(schedule, by=by, now=now)
    logger.info("%d schedules paused by %s", count, _who(by))
    return count


def schedule_resume_all(
    *, by: User, now: datetime, queryset: QuerySet[Schedule] | None = None
) -> int:
    """Resume every paused schedule (or those in `queryset`); return how many."""
    schedules = Schedule.objects.all() if queryset is None else queryset
    ids = list(schedules.filter(is_paused=True).values_list("pk", flat=True))
    count = 0
    with transaction.atomic():
        for pk in ids:
            count += _resume_one(pk, by=by, now=now)
    logger.info("%d schedules resumed by %s", count, _who(by))
    return count


def _resume_one(pk: int, *, by: User, now: datetime) -> bool:
    # Locked so the next run is computed from the row as it is committed; the
    # conditional filter makes a concurrent resume of the same row a no-op.
    schedule = Schedule.objects.select_for_update().filter(pk=pk, is_paused=True)
    row = schedule.first()
    if row is None:
        return False
    changed = schedule.update(
        is_paused=False,
        paused_reason="",
        paused_by=None,
        paused_at=None,
        next_run_at=_next_run(row, now),
        updated_at=now,
        updated_by=_user(by),
    )
    if changed:
        audit_record(
            action=Action.RESUME,
            obj=row,
            by=by,
            changes={
                "is_paused": [True, False],
                "paused_reason": [row.paused_reason, ""],
            },
            now=now,
        )
    return bool(changed)


def _pause_values(*, by: User, reason: str, now: datetime) -> dict[str, Any]:
    return {
        "is_paused": True,
        "paused_reason": (reason or "")[:_PAUSE_REASON_MAX],
        "paused_by": _user(by),
        "paused_at": now,
        "next_run_at": None,
        "updated_at": now,
        "updated_by": _user(by),
    }


def _set_paused(schedule: Schedule, *, by: User, reason: str, now: datetime) -> None:
    for name, value in _pause_values(by=by, reason=reason, now=now).items():
        setattr(schedule, name, value)


def _apply_pause_change(
    schedule: Schedule, *, data: Mapping[str, Any], by: User, now: datetime
) -> list[str]:
    """`is_paused` in an update pauses or resumes within the same save."""
    if "is_paused" not in data or bool(data["is_paused"]) == schedule.is_paused:
        if schedule.is_paused and "paused_reason" in data:
            schedule.paused_reason = str(data["paused_reason"] or "")
            return ["paused_reason"]
        return []
    if data["is_paused"]:
        _set_paused(schedule, by=by, reason=data.get("paused_reason", ""), now=now)
        return ["is_paused", "paused_reason", "paused_by", "paused_at", "next_run_at"]
    schedule.is_paused, schedule.paused_reason = False, ""
    schedule.paused_by, schedule.paused_at = None, None
    return ["is_paused", "paused_reason", "paused_by", "paused_at"]


# --- tags -----------------------------------------------------------------------------
def schedule_tags_replace(
    *, schedule: Schedule, tags: Any, by: User, now: datetime
) -> dict[str, str]:
    """Replace all tags with `tags` ({key: value} or [{key, value}]); return them."""
    cleaned = tags_from_input(tags)
    with transaction.atomic():
        _lock(schedule)
        before = _tags_of(schedule)
        _replace_tags(schedule, cleaned)
        _touch(schedule, by=by, now=now)
        _audit_change(schedule, {"tags": before}, {"tags": cleaned}, by=by, now=now)
    return cleaned


def schedule_tag_remove(
    *, schedule: Schedule, key: str, by: User, now: datetime, value: str | None = None
) -> bool:
    """Remove the tag `key` (only if its value is `value`, when given)."""
    tags = ScheduleTag.objects.filter(schedule=schedule, key=key)
    if value is not None:
        tags = tags.filter(value=value)
    with transaction.atomic():
        before = _tags_of(schedule)
        removed, _ = tags.delete()
        if removed:
            _touch(schedule, by=by, now=now)
            after = {"tags": _tags_of(schedule)}
            _audit_change(schedule, {"tags": before}, after, by=by, now=now)
    return bool(removed)


def _lock(schedule: Schedule) -> None:
    """Hold the schedule's row until commit.

    Replacing tags is delete-then-insert: two replaces at once both delete
    (neither sees the other's uncommitted rows) and both insert, and the second
    commit breaks UNIQUE(schedule, key) with a 500. Holding the row serialises
    them (the dispatcher skips locked rows, so it never waits on this).
    """
    Schedule.objects.select_for_update().filter(pk=schedule.pk).first()


def _replace_tags(schedule: Schedule, tags: Mapping[str, str]) -> None:
    _lock(schedule)  # callers inside a transaction; see _lock
    ScheduleTag.objects.filter(schedule=schedule).delete()
    ScheduleTag.objects.bulk_create(
        ScheduleTag(schedule=schedule, key=key, value=value)
        for key, value in tags.items()
    )


def _touch(schedule: Schedule, *, by: User, now: datetime) -> None:
    Schedule.objects.filter(pk=schedule.pk).update(updated_at=now, updated_by=_user(by))


# --- preview --------------------------------------------------------------------------
@dataclass(frozen=True)
class PreviewFire:
    utc: datetime
    schedule_zone: datetime
    viewer_zone: datetime
    dst: str | None  # "shifted" (moved out of a gap) or "repeated" (second of a fold)

    def as_dict(self) -> dict[str, str | None]:
        return {
            "utc": self.utc.isoformat(),
            "schedule_zone": self.schedule_zone.isoformat(),
            "viewer_zone": self.viewer_zone.isoformat(),
            # Offsets alone do not name a zone; pages show the abbreviation.
            "schedule_zone_abbreviation": self.schedule_zone.strftime("%Z"),
            "viewer_zone_abbreviation": self.viewer_zone.strftime("%Z"),
            "dst": self.dst,
        }


@dataclass(frozen=True)
class SchedulePreview:
    description: str
    time_zone: str
    viewer_zone: str
    fires: list[PreviewFire] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "time_zone": self.time_zone,
            "viewer_zone": self.viewer_zone,
            "fires": [fire.as_dict() for fire in self.fires],
        }


def schedule_preview(
    *,
    schedule: Schedule | None = None,
    definition: Mapping[str, Any] | None = None,
    count: int = 5,
    viewer_zone: str = "UTC",
    after: datetime | None = None,
    now: datetime,
) -> SchedulePreview:
    """The next `count` fires (strictly after `after`, default `now`) of a saved
    schedule, or of `definition` applied to it (or to a new schedule)."""
    if not 1 <= count <= PREVIEW_MAX:
        raise ValidationError(
            {"count": [f"count must be between 1 and {PREVIEW_MAX}, got {count}"]}
        )
    viewer = _viewer_zone(viewer_zone)
    candidate = schedule
    if definition is not None or schedule is None:
        candidate = schedule_validate_definition(
            data=definition or {}, now=now, schedule=schedule, timing_only=True
        )
    assert candidate is not None
    trigger = _trigger(candidate)
    zone = timing.load_zone(candidate.time_zone)
    fires = timing.next_fires(
        trigger,
        after=after or now,
        count=count,
        start=candidate.start_at,
        end=candidate.end_at,
    )
    return SchedulePreview(
        description=schedule_describe(candidate, trigger=trigger),
        time_zone=zone.key,
        viewer_zone=viewer.key,
        fires=[
            PreviewFire(
                utc=fire.at,
                schedule_zone=fire.at.astimezone(zone),
                viewer_zone=fire.at.astimezone(viewer),
                dst=None if fire.dst is None else fire.dst.value,
            )
            for fire in fires
        ],
    )


def schedule_describe(
    schedule: Schedule, *, trigger: timing.Trigger | None = None
) -> str:
    """A human sentence for the schedule's timing, bounds included."""
    try:
        text = timing.describe(trigger or schedule.trigger())
        if schedule.kind == Schedule.Kind.ONE_TIME and schedule.run_at is not None:
            local = schedule.run_at.astimezone(timing.load_zone(schedule.time_zone))
            text = f"once at {local:%Y-%m-%d %H:%M} ({schedule.time_zone})"
    except timing.TimingError as error:
        return f"invalid {error.field}: {error.message}"
    if schedule.start_at is not None:
        text += f", from {schedule.start_at.isoformat()}"
    if schedule.end_at is not None:
        text += f", until {schedule.end_at.isoformat()}"
    return text


def _viewer_zone(name: str) -> Any:
    try:
        return timing.load_zone(name)
    except timing.TimingError as error:
        raise ValidationError({"viewer_zone": [error.message]}) from None


def _trigger(schedule: Schedule) -> timing.Trigger:
    try:
        return schedule.trigger()
    except timing.TimingError as error:
        raise ValidationError({error.field: [error.message]}) from None


# --- audit ----------------------------------------------------------------------------
_AUDITED_FIELDS = sorted(DEFINITION_FIELDS | {"is_paused", "paused_reason"})


def _tags_of(schedule: Schedule) -> dict[str, str]:
    return dict(
        ScheduleTag.objects.filter(schedule=schedule).values_list("key", "value")
    )


def _audited(schedule: Schedule, tags: Mapping[str, str]) -> dict[str, Any]:
    """What the audit trail compares: the definition, the pause and the tags."""
    return {**audit_snapshot(schedule, _AUDITED_FIELDS), "tags": dict(tags)}


def _set_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """A new schedule's record leaves out what it left empty."""
    return {k: v for k, v in values.items() if v not in (None, "", {}, [])}


def _audit_change(
    schedule: Schedule,
    before: Mapping[str, Any],
    after: Mapping[str, Any] | None = None,
    *,
    by: User,
    now: datetime,
) -> None:
    """Record a change event when something did change (a no-op save is not one)."""
    if after is None:
        after = _audited(schedule, _tags_of(schedule))
    changes = audit_diff(before, after)
    if changes:
        audit_record(
            action=Action.CHANGE, obj=schedule, by=by, changes=changes, now=now
        )


def _audit_pause(schedule: Schedule, *, by: User, now: datetime) -> None:
    audit_record(
        action=Action.PAUSE,
        obj=schedule,
        by=by,
        changes={
            "is_paused": [False, True],
            "paused_reason": ["", schedule.paused_reason],
        },
        now=now,
    )


# --- helpers --------------------------------------------------------------------------
def _next_run(schedule: Schedule, now: datetime) -> datetime | None:
    fire = schedule.next_fire_after(now)
    return None if fire is None else fire.at


def _refresh(schedule: Schedule) -> None:
    schedule.refresh_from_db(
        fields=[
            *("is_paused", "paused_reason", "paused_by", "paused_at"),
            *("next_run_at", "updated_at", "updated_by"),
        ]
    )


def _user(by: User) -> Any:
    """Only a saved user is recorded; AnonymousUser or None means "the system"."""
    return by if by is not None and getattr(by, "pk", None) is not None else None


def _who(by: User) -> str:
    user = _user(by)
    return "system" if user is None else str(user)


# --- duplicate ------------------------------------------------------------------------
def schedule_duplicate(
    *, schedule: Schedule, by: User, name: str, now: datetime
) -> Schedule:
    """A paused copy of `schedule` (definition and tags) under the new `name`.

    Paused, so a copy never fires twice what the original already fires; the
    operator edits it and resumes it when it is ready.
    """
    data: dict[str, Any] = {
        field: getattr(schedule, field) for field in DEFINITION_FIELDS
    }
    data.update(
        name=name,
        tags=_tags_of(schedule),
        is_paused=True,
        paused_reason=f"copy of {schedule.name}; resume when ready",
    )
    # allow_past: a copy of a one-time schedule whose time has passed is still
    # a useful starting point; it is paused and gets a new time before it runs.
    return schedule_create(data=data, by=by, now=now, allow_past=True)
