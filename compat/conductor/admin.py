"""API keys in the admin: create one (its secret is shown once), revoke, delete."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from compat.conductor.models import ConductorApiKey
from compat.conductor.services import (
    conductor_api_key_create,
    conductor_api_key_revoke,
)


@admin.register(ConductorApiKey)
class ConductorApiKeyAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "key_id",
        "user",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["revoked_at"]
    search_fields = ["name", "key_id", "user__username"]
    readonly_fields = ["key_id", "created_at", "last_used_at", "revoked_at"]
    autocomplete_fields = ["user"]
    actions = ["revoke"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        if obj is None:
            return ["name", "user"]
        return ["name", "user", *self.readonly_fields]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # The user a key acts as is fixed: make a new key for another user.
        return [*self.readonly_fields, "user"] if obj is not None else []

    def save_model(
        self, request: HttpRequest, obj: ConductorApiKey, form: Any, change: bool
    ) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        _, secret = conductor_api_key_create(
            user=obj.user, name=obj.name, now=timezone.now(), key=obj
        )
        request._conductor_key_secret = secret  # type: ignore[attr-defined]

    def response_add(
        self, request: HttpRequest, obj: ConductorApiKey, post_url_continue: Any = None
    ) -> HttpResponse:
        # The secret is rendered in this response only: never stored, never put
        # in a message cookie or the session.
        context = {
            **self.admin_site.each_context(request),
            "title": "Conductor API key created",
            "key": obj,
            "secret": getattr(request, "_conductor_key_secret", ""),
            "opts": self.model._meta,
        }
        return TemplateResponse(
            request, "conductor_compat/apikey_created.html", context
        )

    @admin.action(description="Revoke selected keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ConductorApiKey]) -> None:
        now = timezone.now()
        count = sum(conductor_api_key_revoke(key=key, now=now) for key in queryset)
        self.message_user(request, f"{count} key(s) revoked.", messages.SUCCESS)
