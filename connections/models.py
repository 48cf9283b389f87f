from __future__ import annotations

from typing import Any

from django.conf import settings as django_settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from core import crypto

# Spaces allowed ("My Data Source", as services name them); no "/" so the name
# is one URL path segment.
CONNECTION_NAME = RegexValidator(
    r"^[A-Za-z0-9](?:[A-Za-z0-9 _.-]*[A-Za-z0-9_.-])?\Z",
    "Letters, digits, spaces, '_', '.' or '-'; start with a letter or digit and "
    "do not end with a space.",
)


class OutgoingConnection(models.Model):
    """A named remote system services reach by name; secrets stored encrypted."""

    class Kind(models.TextChoices):
        REST = "rest", "REST"
        SMTP = "smtp", "SMTP"
        REDIS = "redis", "Redis"

    name = models.CharField(max_length=100, unique=True, validators=[CONNECTION_NAME])
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # Plain settings (URL, user name, timeouts): shown to every reader.
    settings = models.JSONField(default=dict, blank=True)
    # Fernet token of the JSON of the secrets (core.crypto, as credentials).
    secrets_encrypted = models.TextField(blank=True, editable=False)
    last_tested_at = models.DateTimeField(null=True, blank=True)
    last_test = models.JSONField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        permissions = [("test_outgoingconnection", "Can test outgoing connections")]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["rest", "smtp", "redis"]),
                name="connection_kind_known",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def secrets(self) -> dict[str, str]:
        """Decrypted secrets: for the clients only, never for display or logs."""
        return crypto.decrypt_fields(self.secrets_encrypted)

    def masked_secrets(self) -> dict[str, str]:
        return {name: crypto.mask(value) for name, value in self.secrets().items()}

    def setting(self, name: str, default: Any = None) -> Any:
        return self.settings.get(name, default)


class SentEmail(models.Model):
    """An e-mail a service sent, by an idempotency key it chose (e.g. the run
    chain), so a retry finds it and does not send it again."""

    key = models.CharField(max_length=200, unique=True)
    connection_name = models.CharField(max_length=100)
    message_id = models.CharField(max_length=255)
    sent_at = models.DateTimeField()

    class Meta:
        ordering = ["-sent_at"]

    def __str__(self) -> str:
        return f"{self.key}: {self.message_id}"
