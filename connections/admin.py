"""Admin for outgoing connections: secrets write-only and masked, a Test button."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils import timezone

from connections.kinds import KINDS
from connections.models import OutgoingConnection
from connections.services import (
    connection_create,
    connection_delete,
    connection_test,
    connection_update,
)
from core.admin import AuditHistoryMixin

SECRET_NAMES = sorted({name for kind in KINDS.values() for name in kind.secrets})
SECRET_PREFIX = "secret_"  # noqa: S105 (a form field prefix)


def _secret_input(name: str) -> forms.CharField:
    return forms.CharField(
        label=f"Secret: {name}",
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave blank to keep the stored value.",
    )


class ConnectionForm(forms.ModelForm):
    """Secret inputs never render a value; left blank they keep the stored one,
    so opening and saving the page can neither wipe nor reveal a secret."""

    settings = forms.JSONField(
        help_text="A JSON object; see the README for each kind's settings."
    )
    secret_password = _secret_input("password")
    secret_token = _secret_input("token")
    secret_header_value = _secret_input("header_value")
    secret_clear = forms.MultipleChoiceField(
        label="Remove secrets",
        required=False,
        choices=[(name, name) for name in SECRET_NAMES],
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = OutgoingConnection
        fields = ["name", "kind", "settings"]

    def secrets(self) -> dict[str, str]:
        given = {
            name: self.cleaned_data.get(SECRET_PREFIX + name) or ""
            for name in SECRET_NAMES
        }
        kept = {name: value for name, value in given.items() if value}
        for name in self.cleaned_data.get(SECRET_PREFIX + "clear") or []:
            kept[name] = ""
        return kept


@admin.register(OutgoingConnection)
class OutgoingConnectionAdmin(AuditHistoryMixin, admin.ModelAdmin):
    form = ConnectionForm
    list_display = ["name", "kind", "target", "last_tested_at", "tested_ok"]
    list_filter = ["kind"]
    search_fields = ["name"]
    readonly_fields = ["stored_secrets", "last_tested_at", "last_test"]
    change_form_template = "admin/connections/outgoingconnection/change_form.html"

    @admin.display(description="Where")
    def target(self, obj: OutgoingConnection) -> str:
        return str(obj.setting("base_url") or obj.setting("host") or obj.setting("url"))

    @admin.display(boolean=True, description="Test passed")
    def tested_ok(self, obj: OutgoingConnection) -> bool | None:
        return (obj.last_test or {}).get("ok")

    @admin.display(description="Stored secrets")
    def stored_secrets(self, obj: OutgoingConnection) -> str:
        return json.dumps(obj.masked_secrets(), ensure_ascii=False) if obj.pk else ""

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        names = ["name", "kind", "settings"]
        names += [SECRET_PREFIX + name for name in SECRET_NAMES]
        names += [SECRET_PREFIX + "clear"] if obj else []
        return names + (self.readonly_fields if obj else [])

    def save_model(
        self, request: HttpRequest, obj: Any, form: Any, change: bool
    ) -> None:
        data = form.cleaned_data
        # The form's clean() already ran the services' checks (see below).
        if change:
            saved = connection_update(
                connection=OutgoingConnection.objects.get(pk=obj.pk),
                name=data["name"],
                kind=data["kind"],
                settings=data["settings"],
                secrets=form.secrets(),
                by=request.user,
            )
        else:
            saved = connection_create(
                name=data["name"],
                kind=data["kind"],
                settings=data["settings"],
                secrets=form.secrets(),
                by=request.user,
            )
        obj.pk = saved.pk

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> Any:
        extra_context = {
            **(extra_context or {}),
            "can_test": self.has_test_permission(request),
        }
        return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form_class = super().get_form(request, obj, change, **kwargs)
        return _validated_by_service(form_class, obj)

    def delete_model(self, request: HttpRequest, obj: OutgoingConnection) -> None:
        connection_delete(connection=obj, by=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for connection in queryset:
            connection_delete(connection=connection, by=request.user)

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<int:pk>/test/",
                self.admin_site.admin_view(self.test_view),
                name="connections_outgoingconnection_test",
            ),
            *super().get_urls(),
        ]

    def has_test_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("connections.test_outgoingconnection"))

    def test_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """POST only: connect and authenticate now, report the verdict."""
        connection = get_object_or_404(OutgoingConnection, pk=pk)
        if not self.has_test_permission(request, connection):
            raise PermissionDenied
        change_url = reverse("admin:connections_outgoingconnection_change", args=[pk])
        if request.method != "POST":
            return HttpResponseRedirect(change_url)
        result = connection_test(
            connection=connection, by=request.user, now=timezone.now()
        )
        level = messages.SUCCESS if result.ok else messages.ERROR
        verdict = "reached" if result.ok else "failed"
        messages.add_message(
            request,
            level,
            f"{connection.name}: {verdict} in {result.latency_ms} ms — {result.detail}",
        )
        return HttpResponseRedirect(change_url)


def _validated_by_service(form_class: type[forms.ModelForm], obj: Any) -> Any:
    """The form runs the service's checks in clean(), so a bad setting is a
    form error next to its field, not a 500 after the form said yes."""

    class Checked(form_class):  # type: ignore[valid-type,misc]
        def clean(self) -> dict[str, Any]:
            data = super().clean()
            if self.errors or not {"kind", "settings"} <= set(data):
                return data
            from connections.services import connection_check_input

            stored = obj.secrets() if obj is not None else {}
            merged = {**stored, **self.secrets()}
            try:
                connection_check_input(
                    kind=data["kind"], settings=data["settings"], secrets=merged
                )
            except ValidationError as exc:
                for field, problems in exc.message_dict.items():
                    target = field if field in self.fields else None
                    for problem in problems:
                        self.add_error(target, problem)
            return data

    return Checked
