"""The schedule list's filters, and refusing bulk actions a user may not use."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from schedules.models import Schedule, ScheduleTag
from schedules.selectors import schedule_with_last_status


class RefuseUnpermittedActionsMixin:
    """A bulk action the user may not use answers 403, not a quiet no-op.

    Django drops such an action from the menu but answers a crafted POST of it
    with "No action selected" and a 302; we refuse it so nobody mistakes a
    missing permission for an action that found nothing to do.
    """

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        name = request.POST.get("action") if request.method == "POST" else None
        declared = {
            getattr(action, "__name__", str(action))
            for action in self.actions or ()  # type: ignore[attr-defined]
        } | {name for name, _ in self.admin_site.actions}  # type: ignore[attr-defined]
        if name in declared and name not in self.get_actions(request):  # type: ignore[attr-defined]
            raise PermissionDenied
        return super().changelist_view(request, extra_context)  # type: ignore[misc]


# --- list filters -----------------------------------------------------------------
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


class TagFilter(admin.SimpleListFilter):
    title = "tag"
    parameter_name = "tag"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        pairs = ScheduleTag.objects.values_list("key", "value").distinct()
        return [
            (f"{key}:{value}", f"{key}={value}" if value else key)
            for key, value in pairs.order_by("key", "value")[:50]
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Schedule]) -> Any:
        if not self.value():
            return queryset
        key, _, value = str(self.value()).partition(":")
        return queryset.filter(
            pk__in=ScheduleTag.objects.filter(key=key, value=value).values("schedule")
        )


class TargetFilter(admin.SimpleListFilter):
    title = "target"
    parameter_name = "target"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        targets = Schedule.objects.values_list("target", flat=True).distinct()
        return [(name, name) for name in targets.order_by("target")[:50]]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Schedule]) -> Any:
        return queryset.filter(target=self.value()) if self.value() else queryset


class LastStatusFilter(admin.SimpleListFilter):
    title = "last run"
    parameter_name = "last_status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        # The run statuses, without importing jobruns: read off the relation.
        runs = Schedule._meta.get_field("runs").related_model
        field = runs._meta.get_field("status")  # type: ignore[union-attr]
        return [("never", "Never ran"), *(getattr(field, "choices", None) or [])]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Schedule]) -> Any:
        if not self.value():
            return queryset
        annotated: Any = schedule_with_last_status(queryset)
        if self.value() == "never":
            return annotated.filter(last_status__isnull=True)
        return annotated.filter(last_status=self.value())
