from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone

from core.admin import AuditHistoryMixin, instant_field, json_block, key_values
from executions.components import all_components, component_exists, get_component
from executions.models import Credential, Execution
from executions.services import (
    credential_create,
    credential_delete,
    credential_masked_fields,
    credential_update,
    execution_create,
)

FIELD_PREFIX = "field_"


def _component_name(request: HttpRequest, obj: Credential | None) -> str:
    if obj is not None:
        return obj.component
    chosen = request.GET.get("component") or request.POST.get("component") or ""
    if component_exists(chosen):
        return chosen
    components = all_components()
    return components[0].name if components else ""


def _credential_form(component: str, *, adding: bool) -> type[forms.ModelForm]:
    """A form with one input per credential field of ``component``.

    Secret inputs never render their value; left blank on change they keep the
    stored one, so opening and saving the page cannot wipe or reveal a secret.
    """
    spec = get_component(component)
    extra: dict[str, forms.Field] = {}
    for name, field in spec.credentials.items():
        required = field.required and (adding or not field.secret)
        if isinstance(field.model, dict):
            extra[FIELD_PREFIX + name] = forms.ChoiceField(
                label=field.label,
                required=field.required,
                choices=[("", "---------"), *field.model.items()],
            )
        else:
            widget = forms.PasswordInput() if field.secret else forms.TextInput()
            help_text = field.note or (
                "Leave blank to keep the stored value." if field.secret and not adding
                else ""
            )  # fmt: skip
            extra[FIELD_PREFIX + name] = forms.CharField(
                label=field.label, required=required, widget=widget, help_text=help_text
            )
    choices = [(c.name, c.title) for c in all_components()]
    attrs = {
        **extra,
        "component": forms.ChoiceField(choices=choices, disabled=not adding),
        "Meta": type("Meta", (), {"model": Credential, "fields": ["name"]}),
    }
    return type("CredentialAdminForm", (forms.ModelForm,), attrs)


@admin.register(Credential)
class CredentialAdmin(AuditHistoryMixin, admin.ModelAdmin):
    list_display = ["name", "component", "verified_shown", "verified"]
    list_filter = ["component"]
    search_fields = ["name"]
    readonly_fields = [
        "masked", "verification", "verified_shown", "created_shown", "updated_shown",
    ]  # fmt: skip
    change_form_template = "admin/executions/credential/change_form.html"
    verified_shown = instant_field("last_verified_at", "last verified")
    created_shown = instant_field("created_at", "created")
    updated_shown = instant_field("updated_at", "updated")

    @admin.display(boolean=True)
    def verified(self, obj: Credential) -> bool | None:
        return (obj.last_verification or {}).get("verified")

    @admin.display(description="Stored fields")
    def masked(self, obj: Credential) -> Any:
        """Each stored field as the API shows it: secrets as ••••••1234 or "set"."""
        return key_values(credential_masked_fields(obj))

    @admin.display(description="Last verification")
    def verification(self, obj: Credential) -> Any:
        return json_block(obj.last_verification)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        form = self.get_form(request, obj)
        names = [
            "name",
            "component",
            *[f for f in form.base_fields if f.startswith(FIELD_PREFIX)],
        ]
        return names + (self.readonly_fields if obj else [])

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = _credential_form(_component_name(request, obj), adding=obj is None)
        if obj is not None:
            form.base_fields["component"].initial = obj.component
            stored = obj.fields()
            secret = get_component(obj.component).secret_credential_fields()
            for name, value in stored.items():
                key = FIELD_PREFIX + name
                if key in form.base_fields and name not in secret:
                    form.base_fields[key].initial = value
        return form

    def save_model(
        self, request: HttpRequest, obj: Any, form: Any, change: bool
    ) -> None:
        values = {
            key[len(FIELD_PREFIX) :]: value
            for key, value in form.cleaned_data.items()
            if key.startswith(FIELD_PREFIX) and value not in (None, "")
        }
        if change:
            saved = credential_update(
                credential=obj, name=obj.name, fields=values, by=request.user
            )
        else:
            saved = credential_create(
                name=obj.name,
                component=form.cleaned_data["component"],
                fields=values,
                by=request.user,
            )
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: Credential) -> None:
        credential_delete(credential=obj, by=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for credential in queryset:
            credential_delete(credential=credential, by=request.user)

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<int:pk>/verify/",
                self.admin_site.admin_view(self.verify_view),
                name="executions_credential_verify",
            ),
            path(
                "<int:pk>/verify/<uuid:execution_id>/",
                self.admin_site.admin_view(self.verify_progress_view),
                name="executions_credential_verify_progress",
            ),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra_context = {
            **(extra_context or {}),
            "can_verify": self.has_verify_permission(request),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def has_verify_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("executions.verify_credential"))

    def verify_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """POST only: runs verifyCredentials through the same asynchronous path."""
        credential = get_object_or_404(Credential, pk=pk)
        if not self.has_verify_permission(request, credential):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseRedirect(
                reverse("admin:executions_credential_change", args=[pk])
            )
        execution = execution_create(
            component=credential.component,
            method=Execution.Method.VERIFY_CREDENTIALS,
            credential=credential.pk,
            requested_by=request.user,
            via=Execution.Via.ADMIN,
            now=timezone.now(),
        )
        messages.info(request, "Verification started.")
        return HttpResponseRedirect(
            reverse(
                "admin:executions_credential_verify_progress", args=[pk, execution.pk]
            )
        )

    def verify_progress_view(
        self, request: HttpRequest, pk: int, execution_id: Any
    ) -> HttpResponse:
        credential = get_object_or_404(Credential, pk=pk)
        execution = get_object_or_404(Execution, pk=execution_id, credential=credential)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": credential,
            "title": f"Verifying {credential.name}",
            "execution": execution,
            "poll": {
                "url": reverse("executions-api:execution-poll", args=[execution.pk]),
                "change_url": reverse(
                    "admin:executions_credential_change", args=[credential.pk]
                ),
            },
        }
        return TemplateResponse(
            request, "admin/executions/credential/verify.html", context
        )


@admin.register(Execution)
class ExecutionAdmin(admin.ModelAdmin):
    list_display = [
        "id", "component", "method_name", "status", "requested_via", "requested_by",
        "created_shown", "finished_shown",
    ]  # fmt: skip
    list_filter = ["status", "component", "method", "requested_via"]
    date_hierarchy = "created_at"
    list_select_related = ["requested_by"]
    # The inline secret fields (secret_fields_encrypted) are never shown.
    fields = readonly_fields = (
        "id", "component", "method", "model_method", "module", "credential",
        "status", "config_shown", "result_shown", "error", "time_limit_seconds",
        "worker", "requested_by", "requested_via", "created_shown",
        "dispatched_shown", "started_shown", "finished_shown", "expires_shown",
    )  # fmt: skip
    created_shown = instant_field("created_at", "created")
    dispatched_shown = instant_field("dispatched_at", "dispatched")
    started_shown = instant_field("started_at", "started")
    finished_shown = instant_field("finished_at", "finished")
    expires_shown = instant_field("expires_at", "expires")

    @admin.display(description="config")
    def config_shown(self, execution: Execution) -> Any:
        return json_block(execution.config)

    @admin.display(description="result")
    def result_shown(self, execution: Execution) -> Any:
        return json_block(execution.result)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
