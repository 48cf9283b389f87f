"""Job runs in the admin: history, a live run page, Run now, Retry and Cancel.

Runs are written only by `jobruns.services`; the admin shows them and calls
the same services and permission codenames as the API (jobruns/api/views.py,
schedules/api/views.py) for its buttons and bulk actions. Pages of runs that
are not finished poll a small JSON endpoint of this admin every few seconds.
"""

from __future__ import annotations

import json
import re
import shlex
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q, QuerySet
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.safestring import SafeString

from core.admin import AuditHistoryMixin
from core.templatetags.scheduler_ui import status_badge
from core.timefmt import format_instant
from jobruns.admin_forms import QueuedRangeFilter, RunNowForm
from jobruns.admin_list import (
    EstimatedCountPaginator,
    RunChangeList,
    ScheduleWithRunsFilter,
    action_checkbox,
    cell_html,
    change_url,
)
from jobruns.models import JobRun
from jobruns.selectors import ResultFileMissing, jobrun_result_file
from jobruns.services import jobrun_cancel, jobrun_enqueue, jobrun_rerun
from schedules.admin import RefuseUnpermittedActionsMixin
from schedules.models import Schedule

# The permissions the API checks for the same operations.
CANCEL_PERMISSION = "jobruns.cancel_jobrun"
RETRY_PERMISSION = "jobruns.retry_jobrun"
RUN_PERMISSION = "schedules.run_schedule"
LOG_TAIL_CHARS = 8_000
# What the run list's columns read (JobRunAdmin.list_display, and str(run) in
# the checkbox's label).
LIST_FIELDS = (
    "id", "schedule", "schedule_name", "service", "trigger", "attempt", "status",
    "queued_at", "started_at", "finished_at",
)  # fmt: skip
POLL_SECONDS = 2


@admin.register(JobRun)
class JobRunAdmin(RefuseUnpermittedActionsMixin, AuditHistoryMixin, admin.ModelAdmin):
    change_form_template = "admin/jobruns/jobrun/run_page.html"
    # Four columns, so the list reads at 1280 px beside the navigation and the
    # filters: trigger and attempt sit under the id, the service under the
    # schedule, start and duration under the queue time.
    list_display = ("run_id", "schedule_link", "status_shown", "times")
    list_display_links = ("run_id",)
    list_filter = (
        ("schedule", ScheduleWithRunsFilter),
        "status",
        "trigger",
        QueuedRangeFilter,
        "skip_reason",
    )
    search_fields = ("=id", "schedule_name", "service", "correlation_id", "error")
    # No join: the columns show the run's own copy of the schedule's name.
    list_select_related = False
    list_per_page = 50
    show_full_result_count = False  # COUNT(*) over a long history is slow
    paginator = EstimatedCountPaginator
    actions = ("cancel_runs", "retry_runs")

    class Media:
        js = ("jobruns/live.js",)
        css = {"all": ("jobruns/admin.css",)}

    def get_queryset(self, request: HttpRequest) -> QuerySet[JobRun]:
        runs = super().get_queryset(request)
        match = request.resolver_match
        if not (match and (match.url_name or "").endswith("changelist")):
            return runs
        if request.method == "GET":
            # Only what the columns read: a third of the time of loading a page
            # of runs with all thirty fields. A column that reads another field
            # must name it here, or the page asks for it once per row
            # (tests/jobruns/test_admin.py pins the page's statements).
            return runs.only(*LIST_FIELDS)
        # Bulk actions: the services read more of each run, but never these.
        return runs.defer("log", "traceback", "output", "input", "extra")

    # --- permissions: the API's codenames ------------------------------------------
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(CANCEL_PERMISSION)

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(RETRY_PERMISSION)

    # --- list columns --------------------------------------------------------------
    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return RunChangeList

    def action_checkbox(self, obj: JobRun) -> SafeString:
        return action_checkbox(obj)

    @admin.display(description="run", ordering="id")
    def run_id(self, run: JobRun) -> SafeString:
        attempt = f", attempt {run.attempt}" if run.attempt > 1 else ""
        return cell_html(
            '#{}<br><small class="quiet nowrap">{}{}</small>',
            run.pk,
            run.get_trigger_display(),
            attempt,
        )

    @admin.display(description="schedule / service", ordering="schedule_name")
    def schedule_link(self, run: JobRun) -> SafeString:
        if run.schedule_id is None:
            name = cell_html("{}", run.schedule_name or "-")
        else:
            url = change_url("admin:schedules_schedule_change", run.schedule_id)
            name = cell_html('<a href="{}">{}</a>', url, run.schedule_name)
        return cell_html('{}<br><small class="quiet">{}</small>', name, run.service)

    @admin.display(description="status", ordering="status")
    def status_shown(self, run: JobRun) -> SafeString:
        return cell_html(
            '<span class="run-status" data-run="{}" data-finished="{}">{}</span>',
            run.pk,
            "1" if run.is_finished else "0",
            status_badge(run.status),
        )

    @admin.display(description="queued / started, duration", ordering="queued_at")
    def times(self, run: JobRun) -> SafeString:
        return cell_html(
            '<span class="nowrap">{}</span><br><small class="nowrap">'
            '<span class="run-started" data-run="{}">{}</span> '
            '<span class="run-duration" data-run="{}">{}</span></small>',
            format_instant(run.queued_at),
            run.pk,
            format_instant(run.started_at),
            run.pk,
            _duration_text(run),
        )

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {
            **(extra_context or {}),
            "live_config": {
                "list_url": reverse("admin:jobruns_jobrun_live_list"),
                "interval_ms": POLL_SECONDS * 1000,
            },
        }
        return super().changelist_view(request, context)

    # --- the run page ----------------------------------------------------------------
    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        run = self.get_object(request, unquote(object_id))
        if run is None or not self.has_view_permission(request, run):
            return super().change_view(request, object_id, form_url, extra_context)
        context = {
            **(extra_context or {}),
            "run": run,
            "run_view": _run_view(run),
            "attempts": _attempt_chain(run),
            "may_cancel": self.has_cancel_permission(request) and not run.is_finished,
            "may_retry": self.has_retry_permission(request)
            and run.status in (JobRun.Status.FAILED, JobRun.Status.TIMED_OUT,
                               JobRun.Status.CANCELLED),
            "live_config": {
                "run_url": reverse("admin:jobruns_jobrun_live", args=[run.pk]),
                "interval_ms": POLL_SECONDS * 1000,
                "finished": run.is_finished,
            },
        }  # fmt: skip
        return super().change_view(request, object_id, form_url, context)

    # --- bulk actions -----------------------------------------------------------------
    @admin.action(description="Cancel selected runs…", permissions=["cancel"])
    def cancel_runs(
        self, request: HttpRequest, queryset: QuerySet[JobRun]
    ) -> HttpResponse | None:
        if not self.has_cancel_permission(request):
            raise PermissionDenied
        if "apply" not in request.POST:
            return self._bulk_confirm(request, queryset, "cancel_runs", "Cancel runs")
        now = timezone.now()
        active = queryset.filter(status__in=JobRun.ACTIVE)
        count = sum(
            jobrun_cancel(run=run, by=_actor(request), now=now) for run in active
        )
        self.message_user(request, f"Cancelled {count} run(s).", messages.SUCCESS)
        return None

    @admin.action(description="Retry selected runs…", permissions=["retry"])
    def retry_runs(
        self, request: HttpRequest, queryset: QuerySet[JobRun]
    ) -> HttpResponse | None:
        if not self.has_retry_permission(request):
            raise PermissionDenied
        if "apply" not in request.POST:
            return self._bulk_confirm(request, queryset, "retry_runs", "Retry runs")
        now = timezone.now()
        queued, refused = 0, []
        for run in queryset:
            try:
                jobrun_rerun(run=run, by=_actor(request), now=now)
                queued += 1
            except ValidationError as error:
                refused.append(f"#{run.pk}: {' '.join(error.messages)}")
        self.message_user(request, f"Queued {queued} retry run(s).", messages.SUCCESS)
        if refused:
            self.message_user(
                request, "Not retried: " + "; ".join(refused), messages.WARNING
            )
        return None

    def _bulk_confirm(
        self, request: HttpRequest, queryset: QuerySet[JobRun], action: str, title: str
    ) -> TemplateResponse:
        return TemplateResponse(
            request,
            "admin/jobruns/jobrun/confirm.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": title,
                "runs": list(queryset.defer("log", "traceback", "output")),
                "action_name": action,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "submit_label": title.split()[0],
            },
        )

    # --- per-object pages and JSON for the live pages -------------------------------
    def get_urls(self) -> list[URLPattern]:
        def view(function: Any) -> Any:
            return self.admin_site.admin_view(function)

        return [
            path("run-now/", view(self.run_now_view), name="jobruns_jobrun_run_now"),
            path("live/", view(self.live_list_view), name="jobruns_jobrun_live_list"),
            path(
                "<int:run_id>/live/", view(self.live_view), name="jobruns_jobrun_live"
            ),
            path(
                "<int:run_id>/result/",
                view(self.download_result),
                name="jobruns_jobrun_result",
            ),
            path(
                "<int:run_id>/cancel/",
                view(self.cancel_view),
                name="jobruns_jobrun_cancel",
            ),
            path(
                "<int:run_id>/retry/",
                view(self.retry_view),
                name="jobruns_jobrun_retry",
            ),
            *super().get_urls(),
        ]

    def run_now_view(self, request: HttpRequest) -> HttpResponse:
        """Run one or more schedules now, with optional args and input override."""
        if not request.user.has_perm(RUN_PERMISSION):
            raise PermissionDenied
        ids = [pk for pk in request.GET.getlist("schedule") if pk.isdigit()]
        schedules = list(Schedule.objects.filter(pk__in=ids).order_by("name"))
        if not schedules:
            raise Http404("Choose a schedule to run.")
        form = RunNowForm(request.POST if request.method == "POST" else None)
        if form.is_valid():
            runs = self._enqueue(request, form, schedules)
            if runs is not None:
                if len(runs) == 1:
                    return HttpResponseRedirect(_run_url(runs[0]))
                query = urlencode({"id__in": ",".join(str(r.pk) for r in runs)})
                return HttpResponseRedirect(
                    reverse("admin:jobruns_jobrun_changelist") + "?" + query
                )
        return TemplateResponse(
            request,
            "admin/jobruns/jobrun/run_now.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": "Run now: " + ", ".join(s.name for s in schedules),
                "schedules": schedules,
                "form": form,
            },
        )

    def _enqueue(
        self, request: HttpRequest, form: RunNowForm, schedules: list[Schedule]
    ) -> list[JobRun] | None:
        now = timezone.now()
        runs: list[JobRun] = []
        for schedule in schedules:
            try:
                runs.append(
                    jobrun_enqueue(
                        schedule=schedule,
                        trigger=JobRun.Trigger.MANUAL,
                        args=form.cleaned_data["args"],
                        input_override=form.cleaned_data["input"],
                        by=_actor(request),
                        now=now,
                    )
                )
            except ValidationError as error:
                for field, problems in _problems(error).items():
                    target = field if field in form.fields else None
                    for problem in problems:
                        form.add_error(target, f"{schedule.name}: {problem}")
        if form.errors:
            if runs:
                self.message_user(
                    request,
                    f"Queued {len(runs)} run(s); the others were refused.",
                    messages.WARNING,
                )
            return None
        self.message_user(request, f"Queued {len(runs)} run(s).", messages.SUCCESS)
        return runs

    def _run_or_403(self, request: HttpRequest, run_id: int, allowed: bool) -> JobRun:
        if not allowed:
            raise PermissionDenied
        return get_object_or_404(JobRun, pk=run_id)

    def cancel_view(self, request: HttpRequest, run_id: int) -> HttpResponse:
        run = self._run_or_403(request, run_id, self.has_cancel_permission(request))
        if request.method == "POST":
            if jobrun_cancel(run=run, by=_actor(request), now=timezone.now()):
                self.message_user(
                    request, f"Run #{run.pk} cancelled.", messages.SUCCESS
                )
            else:
                self.message_user(
                    request,
                    f"Run #{run.pk} is {run.get_status_display().lower()}; only "
                    "queued or running runs can be cancelled.",
                    messages.WARNING,
                )
            return HttpResponseRedirect(_run_url(run))
        note = "The run stops now; a running service is terminated."
        return self._confirm_page(request, run, "Cancel", note)

    def retry_view(self, request: HttpRequest, run_id: int) -> HttpResponse:
        run = self._run_or_403(request, run_id, self.has_retry_permission(request))
        if request.method == "POST":
            try:
                new = jobrun_rerun(run=run, by=_actor(request), now=timezone.now())
            except ValidationError as error:
                self.message_user(request, " ".join(error.messages), messages.ERROR)
                return HttpResponseRedirect(_run_url(run))
            self.message_user(
                request, f"Attempt {new.attempt} queued as run #{new.pk}.",
                messages.SUCCESS,
            )  # fmt: skip
            return HttpResponseRedirect(_run_url(new))
        note = "A new run (the next attempt) is queued now with the same request."
        return self._confirm_page(request, run, "Retry", note)

    def _confirm_page(
        self, request: HttpRequest, run: JobRun, verb: str, note: str
    ) -> TemplateResponse:
        return TemplateResponse(
            request,
            "admin/jobruns/jobrun/confirm.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": f"{verb} run #{run.pk}?",
                "original": run,
                "runs": [run],
                "note": note,
                "submit_label": verb,
                "cancel_url": _run_url(run),
            },
        )

    def live_view(self, request: HttpRequest, run_id: int) -> JsonResponse:
        """What the run page refreshes while the run is not finished."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        run = get_object_or_404(JobRun, pk=run_id)
        view = _run_view(run)
        return JsonResponse(
            {
                **_live_row(run),
                "log_tail": _log_in_viewer_zone(run.log[-LOG_TAIL_CHARS:]),
                "error": run.error,
                "finished_at": format_instant(run.finished_at),
                "heartbeat_at": format_instant(run.heartbeat_at),
                "lag": _lag_text(run),
                "output": _pretty(run.output),
                "result_url": view["result_url"],
                "result_name": view["result_name"],
            }
        )

    def live_list_view(self, request: HttpRequest) -> JsonResponse:
        """Status, start and duration of the listed runs (`?id=1&id=2`)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        ids = [pk for pk in request.GET.getlist("id") if pk.isdigit()][:200]
        runs = JobRun.objects.filter(pk__in=ids).only(
            "id", "status", "started_at", "finished_at", "queued_at"
        )
        return JsonResponse({"runs": {str(run.pk): _live_row(run) for run in runs}})

    def download_result(self, request: HttpRequest, run_id: int) -> FileResponse:
        """The run's result file, for signed-in staff allowed to view runs."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        run = get_object_or_404(JobRun, pk=run_id)
        try:
            found = jobrun_result_file(run=run)
        except ResultFileMissing as missing:
            raise Http404(str(missing)) from None
        return FileResponse(
            found.handle,
            as_attachment=True,
            filename=found.filename,
            content_type=found.content_type,
        )


def _actor(request: HttpRequest) -> AbstractBaseUser:
    """The signed-in user (admin_view lets no one else in) that services record."""
    if not isinstance(request.user, AbstractBaseUser):
        raise PermissionDenied
    return request.user


def _run_url(run: JobRun) -> str:
    return reverse("admin:jobruns_jobrun_change", args=[run.pk])


def _problems(error: ValidationError) -> dict[str, list[str]]:
    if hasattr(error, "error_dict"):
        return error.message_dict
    return {"__all__": error.messages}


def _duration_text(run: JobRun) -> str:
    seconds = run.duration_seconds
    if seconds is None and run.started_at is not None and not run.is_finished:
        seconds = (timezone.now() - run.started_at).total_seconds()
        return f"{seconds:.0f} s so far"
    return "" if seconds is None else f"{seconds:.1f} s"


def _lag_text(run: JobRun) -> str:
    """How late the run started after it was due (its fire, or when queued)."""
    due = run.scheduled_for or run.queued_at
    if run.started_at is None or due is None:
        return ""
    return f"{max((run.started_at - due).total_seconds(), 0):.1f} s"


def _live_row(run: JobRun) -> dict[str, Any]:
    return {
        "id": run.pk,
        "status": run.status,
        "status_html": str(status_badge(run.status)),
        "finished": run.is_finished,
        "started_at": format_instant(run.started_at),
        "duration": _duration_text(run),
    }


# A run log line starts with its UTC instant (jobruns/jobs/base.py).
_LOG_INSTANT = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)", re.MULTILINE)


def _log_in_viewer_zone(log: str) -> str:
    """The log with each line's leading UTC instant shown in the viewer's zone."""

    def local(match: re.Match[str]) -> str:
        instant = datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S%z")
        return format_instant(instant)

    return _LOG_INSTANT.sub(local, log)


def _pretty(value: Any) -> str:
    """JSON as people read it: indented, keys in their order, no Python reprs."""
    if value in (None, "", [], {}):
        return ""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def _run_view(run: JobRun) -> dict[str, Any]:
    who = run.triggered_by_label or run.get_trigger_display()
    return {
        "timeline": [
            ("Due", format_instant(run.scheduled_for)),
            ("Queued", format_instant(run.queued_at)),
            ("Not before", format_instant(run.not_before)),
            ("Started", format_instant(run.started_at)),
            ("Last heartbeat", format_instant(run.heartbeat_at)),
            ("Finished", format_instant(run.finished_at)),
        ],
        "duration": _duration_text(run),
        "lag": _lag_text(run),
        "who": who,
        "log": _log_in_viewer_zone(run.log),
        "args": " ".join(shlex.quote(str(arg)) for arg in run.args or []),
        "input": _pretty(run.input),
        "output": _pretty(run.output),
        "result_name": run.result_file.name.rsplit("/", 1)[-1]
        if run.result_file
        else "",
        "result_url": reverse("admin:jobruns_jobrun_result", args=[run.pk])
        if run.result_file
        else "",
    }


def _attempt_chain(run: JobRun) -> list[JobRun]:
    """Every attempt of the run's first attempt, oldest first."""
    first = run.retry_of_id or run.pk
    return list(
        JobRun.objects.filter(Q(pk=first) | Q(retry_of_id=first))
        .only("id", "attempt", "status", "queued_at", "retry_of")
        .order_by("attempt", "id")
    )
