"""Conductor-only rules: API keys and tokens, upsert by name, the run context.

Everything a schedule or a run does is decided by schedules.services and
jobruns.services; what lives here is what only the Conductor API has (keys and
tokens, "save" meaning create-or-replace, the cron dialects Conductor accepts,
Conductor's input keys on scheduled runs).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from compat.conductor.errors import TokenExpired, TokenInvalid
from compat.conductor.models import ConductorApiKey, ConductorSchedule
from jobruns.models import JobRun
from jobruns.services import jobrun_requeue_stale
from schedules.models import Schedule
from schedules.services import schedule_create, schedule_update

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)

TOKEN_SALT = "compat.conductor.token"  # noqa: S105 (a salt)
KEY_ID_PREFIX = "ck_"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
REQUEUE_SAMPLE = 10
# Touch last_used_at at most once a minute: a busy client must not turn every
# read into a write.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


# --- epoch milliseconds, Conductor's time format --------------------------------------
def to_ms(value: datetime) -> int:
    return (value - EPOCH) // timedelta(milliseconds=1)


# Instants we accept: from the epoch (Conductor's 0 means "unset") to the year
# 9000, which leaves room for computing fires after the latest one without
# leaving datetime's range (a Java long reaches far beyond it: OverflowError).
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
MS_MAX = to_ms(LATEST)


def from_ms(value: int) -> datetime:
    """The instant `value` ms after the epoch; ValueError outside 0..MS_MAX."""
    if not 0 <= value <= MS_MAX:
        raise ValueError(
            f"{value} is not epoch milliseconds between 0 and {MS_MAX} "
            f"(1970 to {LATEST:%Y})"
        )
    return EPOCH + timedelta(milliseconds=value)


# --- API keys and tokens --------------------------------------------------------------
def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def conductor_api_key_create(
    *,
    user: AbstractBaseUser,
    name: str,
    now: datetime,
    key: ConductorApiKey | None = None,
) -> tuple[ConductorApiKey, str]:
    """Save a new key (or fill in `key`, as the admin form builds it); the
    secret is returned once and only its digest is stored."""
    if not name.strip():
        raise ValidationError({"name": ["give the key a name"]})
    key = key or ConductorApiKey()
    secret = secrets.token_urlsafe(32)  # 256 random bits
    key.name, key.user = name.strip(), user  # type: ignore[assignment]
    key.key_id = KEY_ID_PREFIX + secrets.token_hex(12)
    key.secret_digest = _digest(secret)
    key.created_at = now
    key.save(force_insert=True)
    logger.info("conductor API key %s created for %s", key.key_id, user)
    return key, secret


def conductor_api_key_revoke(*, key: ConductorApiKey, now: datetime) -> bool:
    """Revoke; tokens issued for the key stop working at once."""
    return bool(
        ConductorApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
            revoked_at=now
        )
    )


def conductor_token_issue(*, key_id: str, key_secret: str, now: datetime) -> str | None:
    """A signed, expiring token for a live key and its secret; None otherwise."""
    key = ConductorApiKey.objects.select_related("user").filter(key_id=key_id).first()
    # Compare even for an unknown key id, so timing does not tell ids apart.
    expected = key.secret_digest if key is not None else _digest(secrets.token_hex())
    if not hmac.compare_digest(expected, _digest(key_secret)):
        return None
    if key is None or not key.is_usable(now):
        return None
    _touch(key, now)
    return signing.dumps({"k": key.key_id}, salt=TOKEN_SALT)


def conductor_token_authenticate(*, token: str, now: datetime) -> ConductorApiKey:
    """The live key a token was issued for; TokenExpired or TokenInvalid if none.

    The key is looked up on every call, so revoking it (or deactivating its
    user) ends its tokens without waiting for them to expire.
    """
    try:
        data = signing.loads(
            token, salt=TOKEN_SALT, max_age=settings.CONDUCTOR_TOKEN_TTL_SECONDS
        )
    except signing.SignatureExpired:
        raise TokenExpired() from None
    except signing.BadSignature:
        raise TokenInvalid() from None
    key_id = data.get("k") if isinstance(data, dict) else None
    key = ConductorApiKey.objects.select_related("user").filter(key_id=key_id).first()
    if key is None or not key.is_usable(now):
        raise TokenInvalid("The key this token was issued for is revoked or gone.")
    _touch(key, now)
    return key


def _touch(key: ConductorApiKey, now: datetime) -> None:
    if key.last_used_at is None or now - key.last_used_at > _LAST_USED_RESOLUTION:
        ConductorApiKey.objects.filter(pk=key.pk).update(last_used_at=now)


# --- schedules ------------------------------------------------------------------------
def conductor_cron_dialect(expression: str) -> str:
    """Spring (6 fields, seconds first) is Conductor's; 5 fields are Unix cron.

    Returns the dialect to record ("" lets a macro such as @daily be detected).
    """
    text = " ".join(str(expression or "").split())
    if text.startswith("@"):
        return ""
    count = len(text.split()) if text else 0
    if count == 6:
        return Schedule.CronDialect.SPRING
    if count == 5:
        return Schedule.CronDialect.UNIX
    raise ValidationError(
        {
            "cron_expression": [
                f"{text!r} has {count} fields; a Conductor cron expression has 6 "
                "(second minute hour day-of-month month day-of-week, e.g. "
                "'0 30 2 * * *') or 5 for Unix cron (e.g. '30 2 * * *')"
            ]
        }
    )


def conductor_missed_policy(*, catchup: bool, current: str | None) -> str:
    """runCatchupScheduleInstances: true replays every missed fire (run_all).

    False is Conductor's "next fire after now": missed fires are skipped. A
    schedule made elsewhere keeps its own non-replaying policy (run_once).
    """
    if catchup:
        return Schedule.MissedPolicy.RUN_ALL
    if current and current != Schedule.MissedPolicy.RUN_ALL:
        return current
    return Schedule.MissedPolicy.SKIP


def conductor_schedule_save(
    *,
    data: Mapping[str, Any],
    catchup: bool,
    start_request_extra: Mapping[str, Any],
    by: AbstractBaseUser | None,
    now: datetime,
) -> tuple[Schedule, bool]:
    """Create or replace the schedule named data["name"]; (schedule, created)."""
    existing = Schedule.objects.filter(name=data.get("name")).first()
    values = {
        **data,
        "missed_policy": conductor_missed_policy(
            catchup=catchup, current=existing.missed_policy if existing else None
        ),
    }
    with transaction.atomic():
        if existing is None:
            try:
                # Savepoint: a concurrent save of the same name wins the
                # UNIQUE(name) race and this one becomes its replacement.
                with transaction.atomic():
                    schedule = schedule_create(data=values, by=by, now=now)
                created = True
            except IntegrityError:
                existing = Schedule.objects.get(name=data.get("name"))
        if existing is not None:
            schedule = schedule_update(schedule=existing, data=values, by=by, now=now)
            created = False
        ConductorSchedule.objects.update_or_create(
            schedule=schedule,
            defaults={"start_request_extra": dict(start_request_extra)},
        )
    return schedule, created


# --- runs -----------------------------------------------------------------------------
def conductor_run_context(runs: Sequence[JobRun]) -> dict[int, dict[str, Any]]:
    """Conductor's input keys for the fires of schedules saved through this API.

    Like Conductor's scheduler: `_startedByScheduler` (schedule name),
    `_scheduledTime` (the fire), `_executedTime` (when the scheduler acted),
    `_executionId` (the execution record, here the run id) and `_schedulerCron`.
    One query for a whole dispatcher batch, none when no run is a fire.
    """
    fires = [r for r in runs if r.schedule_id is not None and r.scheduled_for]
    if not fires:
        return {}
    crons = {
        schedule_id: f"{cron} {zone}"
        for schedule_id, cron, zone in ConductorSchedule.objects.filter(
            schedule_id__any_of={run.schedule_id for run in fires}
        ).values_list("schedule_id", "schedule__cron_expression", "schedule__time_zone")
    }
    added: dict[int, dict[str, Any]] = {}
    for run in fires:
        if run.schedule_id in crons and run.scheduled_for is not None:
            added[run.pk] = {
                "_startedByScheduler": run.schedule_name,
                "_scheduledTime": to_ms(run.scheduled_for),
                "_executedTime": to_ms(run.queued_at),
                "_executionId": str(run.pk),
                "_schedulerCron": crons[run.schedule_id],
            }
    return added


def conductor_requeue(*, now: datetime) -> tuple[int, list[str]]:
    """Re-send every queued run not started yet; (count, up to 10 of their ids)."""
    queued = JobRun.objects.filter(status=JobRun.Status.QUEUED).order_by("queued_at")
    ids = list(queued.values_list("pk", flat=True)[:500])
    count = jobrun_requeue_stale(now=now, older_than=0, only=ids)
    sample = (
        JobRun.objects.filter(pk__in=ids, sent_at=now)
        .order_by("pk")
        .values_list("pk", flat=True)[:REQUEUE_SAMPLE]
    )
    return count, [str(pk) for pk in sample]
