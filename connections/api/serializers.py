from __future__ import annotations

from typing import Any, ClassVar

from drf_spectacular.utils import OpenApiExample, extend_schema_serializer
from rest_framework import serializers

from connections.models import OutgoingConnection

_REST = {
    "name": "My Data Source",
    "kind": "rest",
    "settings": {
        "base_url": "https://data.example.com/api/",
        "auth": "bearer",
        "username": "",
        "header_name": "",
        "timeout_seconds": 10,
        "verify_tls": True,
    },
}
_TESTED = {"ok": True, "latency_ms": 41.7, "detail": "PING answered PONG"}
CONNECTION_EXAMPLE = {
    **_REST,
    "secrets": {"token": "••••••9f3a"},
    "last_tested_at": "2030-01-07T12:00:00Z",
    "last_test": {
        **_TESTED,
        "detail": "GET https://data.example.com/api/ answered 200",
    },
    "created_at": "2030-01-07T11:00:00Z",
    "updated_at": "2030-01-07T11:00:00Z",
}


class MaskedSecretsField(serializers.DictField):
    """Write-only in clear; read back masked (``••••••1234`` or ``set``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=serializers.CharField(allow_blank=True), **kwargs)

    def get_attribute(self, instance: OutgoingConnection) -> Any:
        return instance.masked_secrets()


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A REST source with a bearer token",
            value={**_REST, "secrets": {"token": "s3cr3t-token-value"}},
            request_only=True,
        ),
        OpenApiExample(
            "An SMTP server (STARTTLS, signed in)",
            value={
                "name": "My SMTP",
                "kind": "smtp",
                "settings": {
                    "host": "smtp.example.com",
                    "port": 587,
                    "security": "starttls",
                    "username": "robot@example.com",
                    "from_address": "robot@example.com",
                },
                "secrets": {"password": "app-password-value"},
            },
            request_only=True,
        ),
        OpenApiExample(
            "A Redis (password kept out of the URL)",
            value={
                "name": "cache",
                "kind": "redis",
                "settings": {"url": "redis://redis.internal:6379/0"},
                "secrets": {"password": "redis-password"},
            },
            request_only=True,
        ),
        OpenApiExample(
            "A REST source, secrets masked",
            value=CONNECTION_EXAMPLE,
            response_only=True,
            status_codes=["200", "201"],
        ),
    ]
)
class ConnectionSerializer(serializers.ModelSerializer):
    settings = serializers.DictField(
        help_text="Per kind. rest: base_url, auth (none|basic|bearer|header), "
        "username, header_name, timeout_seconds (10), verify_tls (true). smtp: "
        "host ('django:' = Django's EMAIL_BACKEND), port, security "
        "(none|starttls|tls), username, from_address, timeout_seconds. redis: url "
        "(no password in it), timeout_seconds.",
    )
    secrets = MaskedSecretsField(
        required=False,
        help_text="Write-only values (rest: password, token, header_value; smtp "
        "and redis: password), answered masked. Left out on change: kept; empty: "
        "removed.",
    )

    class Meta:
        model = OutgoingConnection
        fields = [
            "name",
            "kind",
            "settings",
            "secrets",
            "last_tested_at",
            "last_test",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["last_tested_at", "last_test", "created_at", "updated_at"]
        # Uniqueness is the service's to check (one message, one place).
        extra_kwargs: ClassVar[dict[str, Any]] = {"name": {"validators": []}}


@extend_schema_serializer(
    examples=[
        OpenApiExample("Reached", value=_TESTED, response_only=True),
        OpenApiExample(
            "Login refused",
            value={
                "ok": False,
                "latency_ms": 12.3,
                "detail": "the server refused the login (535 5.7.8 Authentication "
                "credentials invalid)",
            },
            response_only=True,
        ),
    ]
)
class ConnectionTestSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    latency_ms = serializers.FloatField()
    detail = serializers.CharField()
