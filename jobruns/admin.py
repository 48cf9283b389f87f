"""Job runs in the admin: read-only history, cancel and requeue, result download.

Runs are written only by `jobruns.services`; the admin shows them and calls
services for its two actions, never edits a row.
"""

from __future__ import annotations

import os
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html

from jobruns.models import JobRun
from jobruns.services import jobrun_cancel, jobrun_requeue_stale
from scheduler_site.admin import AuditHistoryMixin


class EstimatedCountPaginator(Paginator):
    """The unfiltered run list counts from PostgreSQL's statistics, not COUNT(*).

    Counting a history of a million rows costs seconds on every page; the
    planner's row estimate (kept by autovacuum) is free and close enough for
    "page N of about M". Filtered lists, small tables and SQLite count exactly.
    """

    ESTIMATE_FROM = 100_000

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if connection.vendor == "postgresql" and not getattr(
            getattr(queryset, "query", None), "where", True
        ):
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                    [JobRun._meta.db_table],
                )
                row = cursor.fetchone()
            if row and row[0] >= self.ESTIMATE_FROM:
                return int(row[0])
        return super().count


@admin.register(JobRun)
class JobRunAdmin(AuditHistoryMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "schedule_name",
        "service",
        "trigger",
        "status",
        "scheduled_for",
        "started_at",
        "duration",
        "attempt",
        "worker",
    )
    list_filter = ("status", "trigger", "skip_reason", "service", "queued_at")
    search_fields = ("=id", "schedule_name", "service", "correlation_id", "error")
    date_hierarchy = "queued_at"
    list_select_related = ("schedule",)
    show_full_result_count = False  # COUNT(*) over a long history is slow
    paginator = EstimatedCountPaginator
    actions = ("cancel_runs", "requeue_runs")
    fieldsets = (
        (None, {"fields": ("schedule", "schedule_name", "service", "status")}),
        (
            "Why",
            {
                "fields": (
                    "trigger",
                    "triggered_by_label",
                    "scheduled_for",
                    "attempt",
                    "retry_of",
                    "correlation_id",
                    "skip_reason",
                    "skipped_count",
                )
            },
        ),
        (
            "When",
            {
                "fields": (
                    "queued_at",
                    "sent_at",
                    "not_before",
                    "started_at",
                    "heartbeat_at",
                    "finished_at",
                    "worker",
                    "celery_task_id",
                    "time_limit_seconds",
                )
            },
        ),
        ("Request", {"fields": ("args", "input", "extra")}),
        ("Outcome", {"fields": ("output", "result_link", "error", "log", "traceback")}),
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_operate_permission(self, request: HttpRequest) -> bool:
        # Cancel and re-send are the operator's "cancel" and "retry" rights.
        # says who may, although the form itself is read-only.
        return request.user.has_perm("jobruns.cancel_jobrun") and request.user.has_perm(
            "jobruns.retry_jobrun"
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [
            f for fields in (s[1]["fields"] for s in self.fieldsets) for f in fields
        ]

    @admin.display(description="Duration")
    def duration(self, run: JobRun) -> str:
        seconds = run.duration_seconds
        return "" if seconds is None else f"{seconds:.1f} s"

    @admin.display(description="Result file")
    def result_link(self, run: JobRun) -> str:
        if not run.result_file:
            return "-"
        url = reverse("admin:jobruns_jobrun_result", args=[run.pk])
        return format_html(
            '<a href="{}">{}</a>', url, os.path.basename(run.result_file.name)
        )

    @admin.action(description="Cancel selected runs", permissions=["operate"])
    def cancel_runs(self, request: HttpRequest, queryset: QuerySet[JobRun]) -> None:
        now = timezone.now()
        active = queryset.filter(status__in=JobRun.ACTIVE)
        by = request.user.get_username()
        count = sum(jobrun_cancel(run=run, by=by, now=now) for run in active)
        self.message_user(request, f"Cancelled {count} run(s).", messages.SUCCESS)

    @admin.action(description="Re-send selected queued runs", permissions=["operate"])
    def requeue_runs(self, request: HttpRequest, queryset: QuerySet[JobRun]) -> None:
        ids = list(queryset.filter(status=JobRun.Status.QUEUED).values_list("pk"))
        count = jobrun_requeue_stale(
            now=timezone.now(), older_than=0, only=[pk for (pk,) in ids]
        )
        self.message_user(request, f"Re-sent {count} queued run(s).", messages.SUCCESS)

    def get_urls(self) -> list[URLPattern]:
        download = self.admin_site.admin_view(self.download_result)
        return [
            path("<int:run_id>/result/", download, name="jobruns_jobrun_result"),
            *super().get_urls(),
        ]

    def download_result(self, request: HttpRequest, run_id: int) -> FileResponse:
        """The run's result file, for signed-in staff allowed to view runs."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        run = JobRun.objects.filter(pk=run_id).first()
        if run is None or not run.result_file:
            raise Http404("This run has no result file.")
        try:
            handle = default_storage.open(run.result_file.name, "rb")
        except FileNotFoundError:
            raise Http404("The result file is gone (pruned?).") from None
        return FileResponse(
            handle,
            as_attachment=True,
            filename=os.path.basename(run.result_file.name),
        )
