"""Accounts: user time zones and personal API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from core.models import ApiToken, UserProfile
from core.zones import civil_zone_names

TOKEN_PREFIX = "sch_"  # noqa: S105  (a public marker, not a secret)


def validate_time_zone(name: str) -> str:
    """An IANA zone name, or a ValidationError that names the bad value."""
    if name not in civil_zone_names():
        raise ValidationError({"time_zone": [f"unknown time zone {name!r}"]})
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError({"time_zone": [f"unknown time zone {name!r}"]}) from None
    return name


def profile_get(*, user: AbstractBaseUser) -> UserProfile:
    profile, _ = UserProfile.objects.get_or_create(user=user)
    return profile


def profile_set_time_zone(*, user: AbstractBaseUser, time_zone: str) -> UserProfile:
    """Validate and store the zone the user reads and enters dates in."""
    validate_time_zone(time_zone)
    profile = profile_get(user=user)
    profile.time_zone = time_zone
    profile.save(update_fields=["time_zone"])
    return profile


def profile_set_clock(*, user: AbstractBaseUser, hour12: bool) -> UserProfile:
    """Store whether the user reads times on a 12-hour clock."""
    profile = profile_get(user=user)
    profile.hour12 = hour12
    profile.save(update_fields=["hour12"])
    return profile


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def api_token_create(
    *, user: AbstractBaseUser, name: str, expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """Create a token; the raw value is returned once and never stored."""
    if not name.strip():
        raise ValidationError({"name": ["give the token a name"]})
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,  # type: ignore[misc]  # any user model, not only auth.User
        name=name.strip(),
        prefix=raw[: len(TOKEN_PREFIX) + 6],
        digest=_digest(raw),
        expires_at=expires_at,
    )
    return token, raw


def api_token_revoke(*, token: ApiToken, now: datetime) -> None:
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now)


def api_token_authenticate(*, raw: str, now: datetime) -> ApiToken | None:
    """The live token matching ``raw``, with its last use recorded; None otherwise."""
    token = ApiToken.objects.select_related("user").filter(digest=_digest(raw)).first()
    if token is None or not token.is_usable(now) or not token.user.is_active:
        return None
    # Only write when it moved by a minute: a busy client must not turn every
    # read into a write.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token
