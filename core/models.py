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
    hour12 = models.BooleanField(
        default=False,
        help_text="Show times on a 12-hour clock (AM/PM) instead of 24 hours.",
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


class AuditEvent(models.Model):
    """Who did what to which object, when, from where, and which fields changed.

    Written only by `core.audit.audit_record`, which the services call,
    so every interface (admin, native API, compatible APIs, CLI) is recorded
    once. The object is named by content type and id rather than a foreign key:
    the event outlives a deleted object, and ids of any type (Execution's UUID)
    fit.
    """

    class Action(models.TextChoices):
        CREATE = "create"
        CHANGE = "change"
        DELETE = "delete"
        PAUSE = "pause"
        RESUME = "resume"
        RUN_NOW = "run_now", "run now"
        CANCEL = "cancel"
        RETRY = "retry"
        VERIFY = "verify"

    class Interface(models.TextChoices):
        ADMIN = "admin"
        API = "api", "native API"
        CLI = "cli", "command line"
        CONDUCTOR = "conductor", "Conductor API"
        OPENSPECIMEN = "openspecimen", "OpenSpecimen API"
        ELASTICIO = "elasticio", "elastic.io API"
        SYSTEM = "system"

    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Kept beside the key: the name stays readable after the user is deleted,
    # and the command line or the system have no user row.
    actor_label = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=16, choices=Action.choices)
    content_type = models.ForeignKey(
        "contenttypes.ContentType", on_delete=models.PROTECT, related_name="+"
    )
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200)
    interface = models.CharField(max_length=16, choices=Interface.choices)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    # {field: [old, new]}; secrets never appear here (credentials: names only).
    changes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            # The history of one object, newest first: the admin and API question.
            models.Index(
                fields=["content_type", "object_id", "-at"], name="audit_object_idx"
            ),
            models.Index(fields=["-at"], name="audit_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.actor_label} {self.action} {self.object_repr}"
