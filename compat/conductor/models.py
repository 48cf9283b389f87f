"""What the Conductor API needs beyond our schedules: API keys, wire-only fields."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models


class ConductorApiKey(models.Model):
    """A key id + secret a Conductor client trades for a token at /api/token.

    The secret is 256 random bits and only its SHA-256 digest is stored: with
    that much entropy a slow password hash adds no protection against guessing,
    and it would make every token request cost ~0.5 s of CPU (an easy DoS of
    /api/token). The client acts as `user`, so that user's groups decide what
    it may do, exactly as in the admin and the native API.
    """

    name = models.CharField(max_length=200, help_text="Who or what uses this key.")
    key_id = models.CharField(max_length=64, unique=True, editable=False)
    secret_digest = models.CharField(max_length=64, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="conductor_api_keys",
        help_text="The client acts as this user; its groups decide permissions.",
    )
    created_at = models.DateTimeField(editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "Conductor API key"
        constraints = [
            models.CheckConstraint(
                name="conductor_api_key_id_not_empty", condition=~models.Q(key_id="")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_id})"

    def is_usable(self, now: datetime) -> bool:
        return (
            self.revoked_at is None or self.revoked_at > now
        ) and self.user.is_active


class ConductorSchedule(models.Model):
    """The wire-only part of a schedule saved through the Conductor API.

    Our Schedule holds everything we act on (cron, zone, bounds, target, input,
    correlation id, priority); this row keeps what only Conductor clients read
    back (workflow version, taskToDomain, idempotency settings...), and its
    existence marks the schedule's runs for Conductor's `_scheduledTime`-style
    input keys.
    """

    schedule = models.OneToOneField(
        "schedules.Schedule", on_delete=models.CASCADE, related_name="conductor"
    )
    start_request_extra = models.JSONField(
        default=dict,
        blank=True,
        help_text="startWorkflowRequest keys we keep but do not act on.",
    )

    class Meta:
        verbose_name = "Conductor schedule detail"

    def __str__(self) -> str:
        return f"Conductor detail of schedule #{self.schedule_id}"
