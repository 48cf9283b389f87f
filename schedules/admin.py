"""Admin for schedules: every write goes through `schedules.services`.

The form validates with the same service as the APIs (so a bad cron is a form
error, never a 500), saving calls schedule_create / schedule_update, and bulk
actions call the pause/resume services and report what they changed.

A target that is a component action (``woocommerce.list_products``) gets a
panel (``static/schedules/schedule_component.js``): a credential chooser, the
action's fields with select options asked of the component through the
asynchronous executions API, and the action's dynamic metadata. The panel's
values are posted as ``component_*`` fields and merged into ``input``.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet, construct_instance
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from core.admin import AuditHistoryMixin
from executions.selectors import component_action_get, component_action_list
from executions.services import component_action_input
from schedules import timing
from schedules.models import Schedule, ScheduleTag
from schedules.services import (
    schedule_create,
    schedule_delete,
    schedule_describe,
    schedule_pause_all,
    schedule_preview,
    schedule_resume_all,
    schedule_tags_replace,
    schedule_update,
)
from schedules.validation import DEFINITION_FIELDS, schedule_validate_definition

_FORM_EXTRAS = ("is_paused", "paused_reason")
# The component panel's inputs; the marker is posted only while the panel is
# shown, so a form sent without JavaScript keeps its typed `input` as it is.
PANEL_MARKER = "component_panel"
PANEL_CREDENTIAL = "component_credential"
PANEL_FIELD = "component_field_"
# Beyond the method's own time limit, how long the page waits for a worker.
PANEL_QUEUE_WAIT_SECONDS = 30


class ScheduleAdminForm(forms.ModelForm):
    class Meta:
        model = Schedule
        fields = sorted(DEFINITION_FIELDS) + list(_FORM_EXTRAS)
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "extra": forms.Textarea(attrs={"rows": 3}),
            "paused_reason": forms.TextInput(attrs={"size": 60}),
        }

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        self._panel_changed_input = self._merge_component_panel(cleaned)
        self.definition = self._definition(cleaned)
        try:
            schedule_validate_definition(
                data=self.definition,
                now=timezone.now(),
                schedule=self.instance if self.instance.pk else None,
            )
        except ValidationError as error:
            self._add_service_errors(error)
        return cleaned

    def _definition(self, cleaned: dict[str, Any]) -> dict[str, Any]:
        """On change, only what the user changed: validation then judges a
        one-time run_at in the past only when someone just typed it."""
        names = [*self._meta.fields]  # type: ignore[misc]
        if self.instance.pk:
            changed = set(self.changed_data)
            if self._panel_changed_input:
                changed.add("input")
            names = [name for name in names if name in changed]
        return {
            name: cleaned[name]
            for name in names
            if name in cleaned and name not in self.errors
        }

    def _merge_component_panel(self, cleaned: dict[str, Any]) -> bool:
        """Put the panel's credential and field values into ``input`` (they win
        over the same keys typed there); True if ``input`` changed."""
        if PANEL_MARKER not in self.data or {"input", "target"} & set(self.errors):
            return False
        target = str(cleaned.get("target") or "").strip()
        found = component_action_get(target)
        typed = cleaned.get("input")
        if found is None or not isinstance(typed, dict):
            return False
        _, _, module = found
        try:
            values = component_action_input(
                target=target,
                credential=str(self.data.get(PANEL_CREDENTIAL, "")).strip(),
                values={
                    name: self.data.get(PANEL_FIELD + name) for name in module.fields
                },
            )
        except ValidationError as error:
            self._add_service_errors(error)
            return False
        declared = {"credential", *module.fields}
        merged = {k: v for k, v in typed.items() if k not in declared} | values
        cleaned["input"] = merged
        return merged != self.instance.input

    def _add_service_errors(self, error: ValidationError) -> None:
        for field, messages_ in error.message_dict.items():
            for message in messages_:
                if field in self.fields:
                    self.add_error(field, message)
                else:  # e.g. "interval", which spans the five interval fields
                    self.add_error(None, f"{field.replace('_', ' ')}: {message}")

    def _post_clean(self) -> None:
        # Validation is the service's job (it ran in clean()); the model's own
        # full_clean() would repeat it with generic constraint messages. Only
        # copy the values onto the instance, which the admin shows and logs.
        try:
            self.instance = construct_instance(self, self.instance, self._meta.fields)
        except ValidationError as error:
            self._update_errors(error)  # type: ignore[attr-defined]


class TagInlineFormSet(BaseInlineFormSet):
    def tags(self) -> dict[str, str]:
        return {
            form.cleaned_data["key"]: form.cleaned_data.get("value", "")
            for form in self.forms
            if form.cleaned_data
            and form.cleaned_data.get("key")
            and not form.cleaned_data.get("DELETE")
        }


class ScheduleTagInline(admin.TabularInline):
    model = ScheduleTag
    formset = TagInlineFormSet
    extra = 1
    fields = ("key", "value")


class NextRunFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("active", "Has a next run"), ("finished", "No next run")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Schedule]) -> Any:
        if self.value() == "active":
            return queryset.filter(next_run_at__isnull=False)
        if self.value() == "finished":
            return queryset.filter(next_run_at__isnull=True, is_paused=False)
        return queryset


@admin.register(Schedule)
class ScheduleAdmin(AuditHistoryMixin, admin.ModelAdmin):
    form = ScheduleAdminForm
    inlines = [ScheduleTagInline]
    list_display = (
        "name",
        "kind",
        "human_description",
        "target",
        "time_zone",
        "next_run_local",
        "is_paused",
        "tag_list",
    )
    list_filter = ("kind", "is_paused", NextRunFilter, "time_zone", "tags__key")
    search_fields = ("name", "description", "target", "tags__key", "tags__value")
    ordering = ("name",)
    actions = ["pause_selected", "resume_selected"]
    readonly_fields = (
        "human_description",
        "next_runs",
        "next_run_at",
        "last_run_at",
        "run_count",
        "paused_by",
        "paused_at",
        "created_at",
        "created_by",
        "updated_at",
        "updated_by",
    )
    fieldsets = (
        (None, {"fields": ("name", "description", "kind", "time_zone")}),
        ("One time", {"fields": ("run_at",), "classes": ("kind-one_time",)}),
        (
            "Interval",
            {
                "fields": (
                    ("interval_weeks", "interval_days", "interval_hours"),
                    ("interval_minutes", "interval_seconds"),
                    "repeats",
                ),
                "classes": ("kind-interval",),
            },
        ),
        (
            "Cron",
            {
                "fields": ("cron_expression", "cron_dialect", "dst_gap", "dst_fold"),
                "classes": ("kind-cron",),
                "description": "Empty dialect: detected from the field count. "
                "Empty DST choices: the product's promise (see the README).",
            },
        ),
        ("Bounds", {"fields": ("start_at", "end_at")}),
        ("Preview", {"fields": ("human_description", "next_runs")}),
        (
            "What runs",
            {"fields": ("target", "input", "extra", "correlation_id", "priority")},
        ),
        (
            "Run policies",
            {
                "classes": ("collapse",),
                "fields": (
                    ("overlap_policy", "max_parallel"),
                    ("missed_policy", "catchup_window_seconds"),
                    ("max_retries", "retry_delay_seconds"),
                    "time_limit_seconds",
                    ("keep_runs_days", "keep_runs_count"),
                ),
            },
        ),
        ("Pause", {"fields": ("is_paused", "paused_reason", "paused_by", "paused_at")}),
        (
            "History",
            {
                "classes": ("collapse",),
                "fields": (
                    ("next_run_at", "last_run_at", "run_count"),
                    ("created_at", "created_by"),
                    ("updated_at", "updated_by"),
                ),
            },
        ),
    )

    class Media:
        js = ("schedules/schedule_form.js", "schedules/schedule_component.js")
        css = {"all": ("schedules/schedule_component.css",)}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Schedule]:
        return super().get_queryset(request).prefetch_related("tags")

    # --- columns and read-only fields
    @admin.display(description="when")
    def human_description(self, schedule: Schedule) -> str:
        if not schedule.kind:
            return "-"
        return schedule_describe(schedule)

    @admin.display(description="next run (schedule's zone)", ordering="next_run_at")
    def next_run_local(self, schedule: Schedule) -> str:
        if schedule.next_run_at is None:
            return "paused" if schedule.is_paused else "-"
        try:
            zone = timing.load_zone(schedule.time_zone)
        except timing.TimingError:
            return schedule.next_run_at.isoformat()
        return schedule.next_run_at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")

    @admin.display(description="tags")
    def tag_list(self, schedule: Schedule) -> str:
        return ", ".join(str(tag) for tag in schedule.tags.all())

    @admin.display(description="next 5 runs")
    def next_runs(self, schedule: Schedule) -> str:
        if schedule.pk is None:
            return "shown after saving"
        try:
            preview = schedule_preview(
                schedule=schedule,
                viewer_zone=timezone.get_current_timezone_name(),
                now=timezone.now(),
            )
        except ValidationError as error:
            return "; ".join(error.messages)
        if not preview.fires:
            return "no further runs"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    fire.schedule_zone.strftime("%a %Y-%m-%d %H:%M:%S %Z"),
                    fire.viewer_zone.strftime("%Y-%m-%d %H:%M %Z"),
                    fire.utc.strftime("%Y-%m-%d %H:%M:%S UTC"),
                    fire.dst or "",
                )
                for fire in preview.fires
            ),
        )
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>UTC</th><th>DST</th></tr>"
            "</thead><tbody>{}</tbody></table>",
            preview.time_zone,
            f"your zone ({preview.viewer_zone})",
            rows,
        )

    # --- the component action panel
    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Schedule | None = None,
    ) -> HttpResponse:
        editable = (
            self.has_change_permission(request, obj)
            if obj is not None
            else self.has_add_permission(request)
        )
        if editable:
            context["component_panel"] = _component_panel(
                request, context["adminform"].form
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    # --- saving through services
    def save_model(
        self, request: HttpRequest, obj: Schedule, form: Any, change: bool
    ) -> None:
        now = timezone.now()
        if change:
            saved = schedule_update(
                schedule=obj, data=form.definition, by=request.user, now=now
            )
        else:
            saved = schedule_create(data=form.definition, by=request.user, now=now)
        # The admin goes on with `obj` (inlines, log entry, redirect).
        for field in Schedule._meta.concrete_fields:
            setattr(obj, field.attname, getattr(saved, field.attname))
        obj._state.adding, obj._state.db = False, saved._state.db

    def save_formset(
        self, request: HttpRequest, form: Any, formset: Any, change: bool
    ) -> None:
        if isinstance(formset, TagInlineFormSet):
            formset.new_objects, formset.changed_objects = [], []
            formset.deleted_objects = []
            if formset.has_changed():
                schedule_tags_replace(
                    schedule=form.instance,
                    tags=formset.tags(),
                    by=request.user,
                    now=timezone.now(),
                )
            return
        super().save_formset(request, form, formset, change)

    def delete_model(self, request: HttpRequest, obj: Schedule) -> None:
        schedule_delete(schedule=obj, by=request.user)

    def delete_queryset(
        self, request: HttpRequest, queryset: QuerySet[Schedule]
    ) -> None:
        for schedule in queryset:
            schedule_delete(schedule=schedule, by=request.user)

    # --- bulk actions
    @admin.action(description="Pause selected schedules", permissions=["change"])
    def pause_selected(
        self, request: HttpRequest, queryset: QuerySet[Schedule]
    ) -> None:
        selected = queryset.count()
        paused = schedule_pause_all(
            by=request.user,
            reason=f"paused from the admin by {request.user}",
            now=timezone.now(),
            queryset=queryset,
        )
        self.message_user(
            request,
            _count_message(paused, "paused", selected - paused, "already paused"),
            messages.SUCCESS,
        )

    @admin.action(description="Resume selected schedules", permissions=["change"])
    def resume_selected(
        self, request: HttpRequest, queryset: QuerySet[Schedule]
    ) -> None:
        selected = queryset.count()
        resumed = schedule_resume_all(
            by=request.user, now=timezone.now(), queryset=queryset
        )
        self.message_user(
            request,
            _count_message(resumed, "resumed", selected - resumed, "not paused"),
            messages.SUCCESS,
        )


def _component_panel(request: HttpRequest, form: forms.ModelForm) -> dict[str, Any]:
    """What the panel's script needs, for ``json_script``: every component
    action a target may name, the current one, and the values to show."""
    actions = {row["target"]: row for row in component_action_list()}
    target = str(form["target"].value() or "").strip()
    current = actions.get(target)
    values: dict[str, Any] = {}
    if form.is_bound and PANEL_MARKER in form.data:
        names = ["credential", *(current["fields"] if current else [])]
        values = {
            name: form.data.get(
                PANEL_CREDENTIAL if name == "credential" else PANEL_FIELD + name, ""
            )
            for name in names
        }
    elif isinstance(form.instance.input, dict):
        values = dict(form.instance.input)
    may_add_credentials = request.user.has_perm("executions.add_credential")
    return {
        "actions": actions,
        "current": target if current else None,
        "values": values,
        "executions_url": reverse("executions-api:execution-list"),
        "credential_add_url": (
            reverse("admin:executions_credential_add") if may_add_credentials else ""
        ),
        "may_run": request.user.has_perm("executions.add_execution"),
        "timeout_seconds": settings.EXECUTION_TIME_LIMIT_SECONDS
        + PANEL_QUEUE_WAIT_SECONDS,
        "names": {
            "marker": PANEL_MARKER,
            "credential": PANEL_CREDENTIAL,
            "field_prefix": PANEL_FIELD,
        },
    }


def _count_message(done: int, verb: str, others: int, state: str) -> str:
    """ "3 schedules paused, 1 was already paused"."""
    text = f"{done} schedule{'' if done == 1 else 's'} {verb}"
    if others:
        text += f", {others} {'was' if others == 1 else 'were'} {state}"
    return text
