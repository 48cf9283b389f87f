from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models


class WorkerHeartbeat(models.Model):
    """The last time each Celery worker consumed a heartbeat task from the broker.

    Written by a task rather than a thread inside the worker, so a fresh row
    proves the whole path (broker -> worker -> database), which is what
    ``/readyz`` wants to know.
    """

    hostname = models.CharField(max_length=255, unique=True)
    seen_at = models.DateTimeField(db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-seen_at"]

    def __str__(self) -> str:
        return self.hostname


class UserProfile(models.Model):
    """Per-user preferences; the time zone every page shows and reads dates in."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        help_text="IANA name, e.g. Europe/Berlin. Dates in the admin are shown "
        "and entered in this zone.",
    )

    def __str__(self) -> str:
        return f"{self.user} ({self.time_zone})"


class ApiToken(models.Model):
    """A personal API token, sent as ``Authorization: Bearer <token>``.

    Only a SHA-256 digest is stored: the token is random (256 bits), so a slow
    password hash adds nothing but latency on every request. The short prefix
    is kept in clear so a user can tell their tokens apart.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, db_index=True)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def is_usable(self, now: datetime) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > now
