from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from core.accounts import api_token_create, api_token_revoke
from core.audit import audit_events_for
from core.models import ApiToken, AuditEvent, UserProfile, WorkerHeartbeat

# The history page shows this many of an object's newest events.
HISTORY_LIMIT = 200


class AuditHistoryMixin:
    """The object's "History" page lists its audit events from every interface.

    Django's own history reads LogEntry, which only the admin writes; the audit
    trail also holds what the API, the compatible APIs and the CLI did.
    """

    object_history_template: Any = "admin/scheduler_site/audit_history.html"

    def history_view(
        self,
        request: HttpRequest,
        object_id: str,
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id))  # type: ignore[attr-defined]
        events = list(audit_events_for(obj)[: HISTORY_LIMIT + 1]) if obj else []
        context = {
            **(extra_context or {}),
            "audit_events": events[:HISTORY_LIMIT],
            "audit_truncated": len(events) > HISTORY_LIMIT,
        }
        return super().history_view(request, object_id, context)  # type: ignore[misc]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The whole trail, read-only: nobody edits history."""

    list_display = [
        "at", "actor_label", "action", "content_type", "object_repr", "interface",
        "remote_addr",
    ]  # fmt: skip
    list_filter = ["action", "interface", "content_type"]
    search_fields = ["actor_label", "object_repr", "object_id"]
    date_hierarchy = "at"
    list_select_related = ["content_type"]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class UserProfileInline(admin.StackedInline):
    model = UserProfile
    can_delete = False
    fields = ["time_zone"]


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class UserWithProfileAdmin(UserAdmin):
    inlines = [UserProfileInline]


class ApiTokenCreateForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ["user", "name", "expires_at"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "user",
        "prefix",
        "created_at",
        "expires_at",
        "last_used_at",
    ]
    list_filter = ["revoked_at"]
    search_fields = ["name", "user__username", "prefix"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None:
            kwargs["form"] = ApiTokenCreateForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["user", "name", "expires_at"]
        return ["user", "name", "prefix", "created_at", "expires_at", "last_used_at",
                "revoked_at"]  # fmt: skip

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return []
        return ["user", "name", "prefix", "created_at", "expires_at", "last_used_at",
                "revoked_at"]  # fmt: skip

    def save_model(
        self, request: HttpRequest, obj: Any, form: Any, change: bool
    ) -> None:
        if change:
            return
        token, raw = api_token_create(
            user=obj.user, name=obj.name, expires_at=obj.expires_at
        )
        obj.pk = token.pk
        messages.warning(
            request,
            f"Token {token.name!r}: {raw} — copy it now, it will not be shown again.",
        )

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: Any) -> None:
        now = timezone.now()
        live = list(queryset.filter(revoked_at__isnull=True))
        for token in live:
            api_token_revoke(token=token, now=now)
        self.message_user(request, f"{len(live)} token(s) revoked.", messages.SUCCESS)


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ["hostname", "seen_at", "started_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
