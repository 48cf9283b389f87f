from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from core.accounts import api_token_create, api_token_revoke
from core.audit import audit_events_for
from core.models import ApiToken, AuditEvent, UserProfile, WorkerHeartbeat
from core.timefmt import format_instant

EMPTY = "-"  # what Django's admin shows for an empty value


# --- showing values the same way on every admin page --------------------------------
def instant_field(name: str, description: str) -> Callable[[Any, Any], str]:
    """A column or read-only field showing `name` as every page shows instants:
    the user's zone, seconds and the zone's abbreviation (core.timefmt).

    Django's own rendering of a DateTimeField drops the seconds and the zone.
    """

    @admin.display(description=description, ordering=name)
    def show(model_admin: Any, obj: Any) -> str:
        return format_instant(getattr(obj, name)) or EMPTY

    return show


def json_block(value: Any) -> SafeString | str:
    """Indented JSON in a <pre>, not a Python repr ("None", single quotes)."""
    if value is None:
        return EMPTY
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
    return format_html('<pre class="json-value">{}</pre>', text)


def key_values(values: Mapping[str, Any]) -> SafeString | str:
    """A small definition list: one line per key, values as JSON scalars."""
    if not values:
        return EMPTY
    return format_html(
        '<dl class="key-values">{}</dl>',
        format_html_join(
            "",
            "<dt>{}</dt><dd>{}</dd>",
            ((key, _scalar(value)) for key, value in values.items()),
        ),
    )


def _scalar(value: Any) -> str:
    if value is None or value == "":
        return "(empty)"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


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
        "at_shown", "actor_label", "action", "content_type", "object_repr",
        "interface", "remote_addr",
    ]  # fmt: skip
    fields = readonly_fields = (
        "at_shown", "actor_label", "action", "content_type", "object_id",
        "object_repr", "interface", "remote_addr", "changes_shown",
    )  # fmt: skip
    at_shown = instant_field("at", "at")
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

    @admin.display(description="changes")
    def changes_shown(self, event: AuditEvent) -> SafeString | str:
        """Each field as old -> new (secrets are never recorded, see core.audit)."""
        if not event.changes:
            return EMPTY
        return format_html_join(
            "",
            "<div><code>{}</code>: {} &rarr; {}</div>",
            (
                (name, _audit_value(pair, 0), _audit_value(pair, 1))
                for name, pair in event.changes.items()
            ),
        )


def _audit_value(pair: Any, index: int) -> str:
    if not isinstance(pair, list | tuple) or len(pair) <= index:
        return _scalar(pair) if index == 1 else "—"
    value = pair[index]
    return "—" if value is None else _scalar(value)


class UserProfileInline(admin.StackedInline):
    model = UserProfile
    can_delete = False
    fields = ["time_zone", "hour12"]


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
        "name", "user", "prefix", "created_shown", "expires_shown", "last_used_shown",
        "revoked_shown",
    ]  # fmt: skip
    list_filter = ["revoked_at"]
    search_fields = ["name", "user__username", "prefix"]
    actions = ["revoke"]
    created_shown = instant_field("created_at", "created")
    expires_shown = instant_field("expires_at", "expires")
    last_used_shown = instant_field("last_used_at", "last used")
    revoked_shown = instant_field("revoked_at", "revoked")
    _SHOWN = ["user", "name", "prefix", "created_shown", "expires_shown",
              "last_used_shown", "revoked_shown"]  # fmt: skip

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None:
            kwargs["form"] = ApiTokenCreateForm
        form = super().get_form(request, obj, change=change, **kwargs)
        if "expires_at" in form.base_fields:
            # The input is read in the user's zone (core.middleware); say which.
            zone = timezone.get_current_timezone_name()
            form.base_fields["expires_at"].help_text = f"Date and time in {zone}."
        return form

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["user", "name", "expires_at"]
        return self._SHOWN

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [] if obj is None else self._SHOWN

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
    list_display = ["hostname", "seen_shown", "started_shown"]
    fields = readonly_fields = ("hostname", "seen_shown", "started_shown")
    seen_shown = instant_field("seen_at", "last heartbeat")
    started_shown = instant_field("started_at", "worker started")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
