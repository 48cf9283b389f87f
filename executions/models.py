from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from core import crypto

CREDENTIAL_NAME = RegexValidator(
    r"^[A-Za-z][A-Za-z0-9_.-]*\Z",
    "Start with a letter; then letters, digits, '_', '.' or '-'.",
)


class Credential(models.Model):
    """Named credential of one component; every field is stored encrypted."""

    name = models.CharField(max_length=100, unique=True, validators=[CREDENTIAL_NAME])
    component = models.CharField(max_length=100)
    # Fernet token of the JSON of all fields (secret or not): one token keeps
    # rotation and the "never in clear at rest" rule simple.
    fields_encrypted = models.TextField(editable=False)
    last_verified_at = models.DateTimeField(null=True, blank=True)
    last_verification = models.JSONField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        permissions = [("verify_credential", "Can verify credentials")]

    def __str__(self) -> str:
        return self.name

    def fields(self) -> dict[str, Any]:
        """Decrypted field values: for the executor only, never for display."""
        return crypto.decrypt_fields(self.fields_encrypted)

    def masked_fields(self, secret_names: set[str]) -> dict[str, str]:
        return {
            key: crypto.mask(value) if key in secret_names else value
            for key, value in self.fields().items()
        }


class Execution(models.Model):
    class Method(models.TextChoices):
        VERIFY_CREDENTIALS = "verify_credentials", "verifyCredentials"
        GET_META_MODEL = "get_meta_model", "getMetaModel"
        SELECT_MODEL = "select_model", "selectModel"

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        TIMED_OUT = "timed_out"

    class Via(models.TextChoices):
        API = "api", "native API"
        V1 = "v1", "elastic.io v1"
        V2 = "v2", "elastic.io v2"
        ADMIN = "admin"
        CLI = "cli"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.TIMED_OUT)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    component = models.CharField(max_length=100)
    method = models.CharField(max_length=20, choices=Method.choices)
    model_method = models.CharField(max_length=100, blank=True)
    module = models.CharField(max_length=100, blank=True)
    config = models.JSONField(default=dict, blank=True)
    credential = models.ForeignKey(
        Credential,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="executions",
    )
    # Inline secret fields (verify without a stored credential), encrypted and
    # wiped when the execution finishes.
    secret_fields_encrypted = models.TextField(blank=True, editable=False)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING
    )
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    time_limit_seconds = models.PositiveIntegerField()
    worker = models.CharField(max_length=200, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    requested_via = models.CharField(max_length=5, choices=Via.choices)
    created_at = models.DateTimeField()
    # When the task message was last sent; the reaper re-sends lost ones.
    dispatched_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    # elastic.io v1: "the result may be retrieved only once"; set by the read.
    result_read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The prune task deletes by expiry; the reaper scans unfinished rows.
            models.Index(fields=["expires_at"], name="execution_expires_idx"),
            models.Index(fields=["status", "started_at"], name="execution_status_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(method="select_model", model_method__gt="")
                | (~Q(method="select_model") & Q(model_method="")),
                name="execution_model_method_iff_select",
            ),
            models.CheckConstraint(
                condition=Q(method="verify_credentials") | Q(module__gt=""),
                name="execution_module_for_model_methods",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "running"], finished_at=None)
                | Q(
                    status__in=["succeeded", "failed", "timed_out"],
                    finished_at__isnull=False,
                ),
                name="execution_finished_iff_final_status",
            ),
            models.CheckConstraint(
                condition=Q(finished_at=None)
                | Q(started_at=None)
                | Q(finished_at__gte=models.F("started_at")),
                name="execution_finish_after_start",
            ),
            models.CheckConstraint(
                condition=Q(time_limit_seconds__gt=0),
                name="execution_time_limit_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.component}.{self.method_name} ({self.status})"

    @property
    def method_name(self) -> str:
        """The name the original platform uses: the select method's own name."""
        if self.method == self.Method.SELECT_MODEL:
            return self.model_method
        return self.get_method_display()

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at <= now
