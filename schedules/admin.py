"""Admin for schedules: every write goes through `schedules.services`.

The form validates with the same service as the APIs (so a bad cron is a form
error, never a 500); saving calls schedule_create / schedule_update. Pause,
Resume and Duplicate are per-object pages (`get_urls()` + the object-tools
block) and bulk actions; Run now lives with the runs it creates (the job run
admin), this page links to it. Every button is shown only to users holding
the same permission the API checks, and the server checks again.

A target that is a component action (``woocommerce.list_products``) gets a
panel (``static/schedules/schedule_component.js``): a credential chooser, the
action's fields with select options asked of the component through the
asynchronous executions API, and the action's dynamic metadata. The panel's
values are posted as ``component_*`` fields and merged into ``input``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from core.admin import AuditHistoryMixin
from core.templatetags.scheduler_ui import outcome_strip, status_badge
from core.timefmt import format_instant, format_relative, hour12_preference
from executions.selectors import component_action_list
from schedules import timing
from schedules.admin_filters import (
    LastStatusFilter,
    NextRunFilter,
    RefuseUnpermittedActionsMixin,
    TagFilter,
    TargetFilter,
)
from schedules.admin_forms import (
    PANEL_CREDENTIAL,
    PANEL_FIELD,
    PANEL_MARKER,
    PauseForm,
    ScheduleAdminForm,
    TagInlineFormSet,
)
from schedules.admin_views import ScheduleObjectPagesMixin
from schedules.models import Schedule, ScheduleTag
from schedules.selectors import (
    schedule_list_with_recent_runs,
)
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
from schedules.validation import target_catalogue

# Beyond the method's own time limit, how long the component panel waits.
PANEL_QUEUE_WAIT_SECONDS = 30
PREVIEW_COUNT = 10
# The permissions the API checks for the same operations (schedules/api/views.py).
RUN_PERMISSION = "schedules.run_schedule"


class ScheduleTagInline(admin.TabularInline):
    model = ScheduleTag
    formset = TagInlineFormSet
    extra = 1
    fields = ("key", "value")


@admin.register(Schedule)
class ScheduleAdmin(
    RefuseUnpermittedActionsMixin,
    ScheduleObjectPagesMixin,
    AuditHistoryMixin,
    admin.ModelAdmin,
):
    form = ScheduleAdminForm
    inlines = [ScheduleTagInline]
    # Five columns, so the list reads at 1280 px beside the navigation and the
    # filters: the zone is in the description, tags sit under the name and the
    # pause reason where the next run would be.
    list_display = ("name_and_target", "when", "next_run", "last_run")
    list_display_links = ("name_and_target",)
    list_filter = (
        "kind",
        "is_paused",
        LastStatusFilter,
        TagFilter,
        TargetFilter,
        NextRunFilter,
    )
    search_fields = ("name", "description", "target", "tags__key", "tags__value")
    ordering = ("name",)
    list_per_page = 50
    actions = ["run_now_selected", "pause_selected", "resume_selected"]
    readonly_fields = (
        "live_preview",
        "next_run_shown",
        "last_run_shown",
        "run_count",
        "paused_by",
        "paused_at_shown",
        "created_at_shown",
        "created_by",
        "updated_at_shown",
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
        ("Preview", {"fields": ("live_preview",)}),
        (
            "What runs",
            {"fields": ("target", "input", "extra", "correlation_id", "priority")},
        ),
        (
            "Run policies",
            {
                "fields": (
                    ("overlap_policy", "max_parallel"),
                    ("missed_policy", "catchup_window_seconds"),
                    ("max_retries", "retry_delay_seconds"),
                    "time_limit_seconds",
                    ("keep_runs_days", "keep_runs_count"),
                ),
            },
        ),
        (
            "Pause",
            {
                "fields": (
                    "is_paused",
                    "paused_reason",
                    "paused_by",
                    "paused_at_shown",
                )
            },
        ),
        (
            "History",
            {
                "classes": ("collapse",),
                "fields": (
                    ("next_run_shown", "last_run_shown", "run_count"),
                    ("created_at_shown", "created_by"),
                    ("updated_at_shown", "updated_by"),
                ),
            },
        ),
    )

    class Media:
        js = (
            "schedules/schedule_form.js",
            "schedules/schedule_preview.js",
            "schedules/schedule_component.js",
        )
        css = {"all": ("schedules/schedule_component.css", "schedules/admin.css")}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Schedule]:
        return schedule_list_with_recent_runs(queryset=super().get_queryset(request))

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        # A new schedule starts in the zone its author reads times in.
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("time_zone", timezone.get_current_timezone_name())
        return initial

    # --- permissions: the API's codenames ------------------------------------------
    def has_run_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(RUN_PERMISSION)

    # --- list columns --------------------------------------------------------------
    @admin.display(description="schedule", ordering="name")
    def name_and_target(self, schedule: Schedule) -> SafeString:
        return format_html(
            '<span class="schedule-name">{}</span><br><small class="quiet">{}</small>'
            "<br>{}",
            schedule.name,
            schedule.target,
            self.tag_list(schedule),
        )

    @admin.display(description="when", ordering="kind")
    def when(self, schedule: Schedule) -> SafeString:
        return format_html(
            '{}<br><small class="quiet">{}</small>',
            self.human_description(schedule),
            schedule.get_kind_display(),
        )

    def human_description(self, schedule: Schedule) -> str:
        return schedule_describe(schedule) if schedule.kind else "-"

    @admin.display(description="next run", ordering="next_run_at")
    def next_run(self, schedule: Schedule) -> SafeString | str:
        if schedule.is_paused:
            return self.pause_state(schedule)
        if schedule.next_run_at is None:
            return format_html('<span class="quiet">{}</span>', "finished")
        return format_html(
            '{}<br><small class="quiet">{}</small>',
            format_instant(schedule.next_run_at),
            format_relative(schedule.next_run_at, now=timezone.now()),
        )

    @admin.display(description="last runs")
    def last_run(self, schedule: Schedule) -> SafeString:
        return format_html(
            '{}<div class="schedule-links">{}</div>',
            self._last_runs(schedule),
            self._links(schedule, may_run=False),
        )

    @admin.display(description="last runs")
    def last_run_and_run_now(self, schedule: Schedule) -> SafeString:
        return format_html(
            '{}<div class="schedule-links">{}</div>',
            self._last_runs(schedule),
            self._links(schedule, may_run=True),
        )

    def get_list_display(self, request: HttpRequest) -> Any:
        # A column knows only its row, so the Run now link is a column of its
        # own, chosen per request for those holding the API's run permission.
        columns = list(super().get_list_display(request))
        if self.has_run_permission(request):
            columns[columns.index("last_run")] = "last_run_and_run_now"
        return columns

    def _last_runs(self, schedule: Schedule) -> SafeString:
        recent = getattr(schedule, "recent_runs", None) or []
        if not recent:
            return format_html('<small class="quiet">{}</small>', "never ran")
        newest = recent[0]
        at = newest.started_at or newest.queued_at
        return format_html(
            "{} {}<br><small>{}</small>",
            status_badge(newest.status),
            outcome_strip(run.status for run in reversed(recent)),
            format_instant(at),
        )

    @admin.display(description="paused", ordering="is_paused")
    def pause_state(self, schedule: Schedule) -> SafeString | str:
        if not schedule.is_paused:
            return format_html('<span class="quiet">{}</span>', "active")
        return format_html(
            '<strong class="paused-label">paused</strong><br>'
            '<small class="pause-reason">{}</small>',
            schedule.paused_reason or "no reason given",
        )

    @admin.display(description="tags")
    def tag_list(self, schedule: Schedule) -> SafeString:
        return format_html_join(
            " ",
            '<span class="schedule-tag">{}</span>',
            ((str(tag),) for tag in schedule.tags.all()),
        )

    def _links(self, schedule: Schedule, *, may_run: bool) -> SafeString:
        """A link to the schedule's runs, and Run now when `may_run`."""
        runs = (
            reverse("admin:jobruns_jobrun_changelist")
            + "?"
            + urlencode({"schedule__id__exact": schedule.pk})
        )
        link = format_html('<a class="nowrap" href="{}">all runs</a>', runs)
        if not may_run:
            return link
        return format_html(
            '{} · <a class="nowrap run-now-link" href="{}">Run now</a>',
            link,
            _run_now_url([schedule.pk]),
        )

    # --- read-only fields of the form --------------------------------------------
    @admin.display(description="next run")
    def next_run_shown(self, schedule: Schedule) -> str:
        return format_instant(schedule.next_run_at) or "-"

    @admin.display(description="last run")
    def last_run_shown(self, schedule: Schedule) -> str:
        return format_instant(schedule.last_run_at) or "-"

    @admin.display(description="paused at")
    def paused_at_shown(self, schedule: Schedule) -> str:
        return format_instant(schedule.paused_at) or "-"

    @admin.display(description="created at")
    def created_at_shown(self, schedule: Schedule) -> str:
        return format_instant(schedule.created_at) if schedule.pk else "-"

    @admin.display(description="updated at")
    def updated_at_shown(self, schedule: Schedule) -> str:
        return format_instant(schedule.updated_at) if schedule.pk else "-"

    @admin.display(description="next fires")
    def live_preview(self, schedule: Schedule) -> SafeString:
        """The server's answer for the saved schedule; the page's script
        replaces it as the timing fields are edited."""
        return format_html(
            '<div id="schedule-preview" aria-live="polite">{}</div>',
            _preview_table(schedule) if schedule.pk else "",
        )

    # --- the change form ------------------------------------------------------
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
            context["target_catalogue"] = target_catalogue()
            context["schedule_preview_config"] = {
                "url": reverse("schedule-preview"),
                "count": PREVIEW_COUNT,
                "viewer_zone": timezone.get_current_timezone_name(),
                "hour12": hour12_preference.get(),
            }
        if obj is not None:
            context.update(
                may_run=self.has_run_permission(request),
                may_pause=self.has_pause_permission(request),
                may_duplicate=self.has_duplicate_permission(request),
                run_now_url=_run_now_url([obj.pk]),
                runs_url=reverse("admin:jobruns_jobrun_changelist")
                + f"?schedule__id__exact={obj.pk}",
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    # --- saving through services ----------------------------------------------------
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
        # The admin goes on with `obj` (tags, log entry, redirect): load what
        # the service saved into it.
        obj.pk = saved.pk
        obj.refresh_from_db()

    def save_related(
        self, request: HttpRequest, form: Any, formsets: Any, change: bool
    ) -> None:
        # Tags are written by their service (audited), not by the inline formset.
        for formset in formsets:
            if isinstance(formset, TagInlineFormSet) and formset.has_changed():
                schedule_tags_replace(
                    schedule=form.instance,
                    tags=formset.tags(),
                    by=request.user,
                    now=timezone.now(),
                )

    def construct_change_message(
        self, request: HttpRequest, form: Any, formsets: Any, add: bool = False
    ) -> list[dict[str, Any]]:
        if add:
            return [{"added": {}}]
        changed = [str(form.fields[name].label or name) for name in form.changed_data]
        if any(formset.has_changed() for formset in formsets):
            changed.append("tags")
        return [{"changed": {"fields": changed}}] if changed else []

    def delete_model(self, request: HttpRequest, obj: Schedule) -> None:
        schedule_delete(schedule=obj, by=request.user)

    def delete_queryset(
        self, request: HttpRequest, queryset: QuerySet[Schedule]
    ) -> None:
        for schedule in queryset:
            schedule_delete(schedule=schedule, by=request.user)

    # --- bulk actions ---------------------------------------------------------------
    @admin.action(description="Run selected schedules now…", permissions=["run"])
    def run_now_selected(
        self, request: HttpRequest, queryset: QuerySet[Schedule]
    ) -> HttpResponse:
        if not self.has_run_permission(request):
            raise PermissionDenied
        return HttpResponseRedirect(
            _run_now_url(list(queryset.values_list("pk", flat=True)))
        )

    @admin.action(description="Pause selected schedules…", permissions=["pause"])
    def pause_selected(
        self, request: HttpRequest, queryset: QuerySet[Schedule]
    ) -> HttpResponse | None:
        if not self.has_pause_permission(request):
            raise PermissionDenied
        form = PauseForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            # The intermediate page: ask for the reason, then post back here.
            return TemplateResponse(
                request,
                "admin/schedules/schedule/action_form.html",
                {
                    **self.admin_site.each_context(request),
                    "opts": self.opts,
                    "title": "Pause schedules",
                    "form": form,
                    "selected": list(queryset),
                    "action_name": "pause_selected",
                    "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                    "submit_label": "Pause",
                },
            )
        selected = queryset.count()
        paused = schedule_pause_all(
            by=request.user,
            reason=form.cleaned_data["reason"],
            now=timezone.now(),
            queryset=queryset,
        )
        self.message_user(
            request,
            _count_message(paused, "paused", selected - paused, "already paused"),
            messages.SUCCESS,
        )
        return None

    @admin.action(description="Resume selected schedules", permissions=["pause"])
    def resume_selected(
        self, request: HttpRequest, queryset: QuerySet[Schedule]
    ) -> None:
        if not self.has_pause_permission(request):
            raise PermissionDenied
        selected = queryset.count()
        resumed = schedule_resume_all(
            by=request.user, now=timezone.now(), queryset=queryset
        )
        self.message_user(
            request,
            _count_message(resumed, "resumed", selected - resumed, "not paused"),
            messages.SUCCESS,
        )


def _run_now_url(ids: list[int]) -> str:
    # Run now creates a run, so its page is the job run admin's.
    query = urlencode([("schedule", pk) for pk in ids])
    return reverse("admin:jobruns_jobrun_run_now") + "?" + query


def _preview_table(schedule: Schedule) -> SafeString:
    try:
        preview = schedule_preview(
            schedule=schedule,
            count=PREVIEW_COUNT,
            viewer_zone=timezone.get_current_timezone_name(),
            now=timezone.now(),
        )
    except ValidationError as error:
        return format_html('<p class="errornote">{}</p>', "; ".join(error.messages))
    if not preview.fires:
        return format_html("<p>{}</p>", "no further runs")
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                fire.schedule_zone.strftime("%a %Y-%m-%d %H:%M:%S %Z"),
                format_instant(fire.utc),
                fire.dst or "",
            )
            for fire in preview.fires
        ),
    )
    return format_html(
        '<p class="preview-description">{}</p>'
        '<table class="preview-fires"><thead><tr><th>{}</th><th>{}</th><th>DST</th>'
        "</tr></thead><tbody>{}</tbody></table>",
        preview.description,
        preview.time_zone,
        f"your zone ({preview.viewer_zone})",
        rows,
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


__all__ = ["Q", "RefuseUnpermittedActionsMixin", "ScheduleAdmin", "timing"]
