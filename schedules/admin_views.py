"""The schedule admin's per-object pages: Pause (with a reason), Resume, Duplicate.

Added through `get_urls()` and linked from the change form's object tools;
each checks the API's permission for the operation and calls its service.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone

from core.timefmt import format_instant
from schedules.admin_forms import DuplicateForm, PauseForm
from schedules.models import Schedule
from schedules.services import schedule_duplicate, schedule_pause, schedule_resume


def schedule_change_url(schedule: Schedule) -> str:
    return reverse("admin:schedules_schedule_change", args=[schedule.pk])


if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin[Schedule]
else:
    _ModelAdmin = object

# The permissions the API checks for the same operations (schedules/api/views.py).
PAUSE_PERMISSION = "schedules.pause_schedule"
ADD_PERMISSION = "schedules.add_schedule"


class ScheduleObjectPagesMixin(_ModelAdmin):
    """Pause, Resume and Duplicate pages, mixed into the schedule's ModelAdmin."""

    def has_pause_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(PAUSE_PERMISSION)

    def has_duplicate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(ADD_PERMISSION)

    def get_urls(self) -> list[URLPattern]:
        def view(function: Any) -> Any:
            return self.admin_site.admin_view(function)

        return [
            path(
                "<path:object_id>/pause/",
                view(self.pause_view),
                name="schedules_schedule_pause",
            ),
            path(
                "<path:object_id>/resume/",
                view(self.resume_view),
                name="schedules_schedule_resume",
            ),
            path(
                "<path:object_id>/duplicate/",
                view(self.duplicate_view),
                name="schedules_schedule_duplicate",
            ),
            *super().get_urls(),
        ]

    def _schedule_or_403(
        self, request: HttpRequest, object_id: str, allowed: bool
    ) -> Schedule:
        if not allowed:
            raise PermissionDenied
        return get_object_or_404(Schedule, pk=unquote(object_id))

    def pause_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        schedule = self._schedule_or_403(
            request, object_id, self.has_pause_permission(request)
        )
        form = PauseForm(request.POST if request.method == "POST" else None)
        if form.is_valid():
            paused = schedule_pause(
                schedule=schedule,
                by=request.user,
                reason=form.cleaned_data["reason"],
                now=timezone.now(),
            )
            self.message_user(
                request,
                f"{schedule.name} paused."
                if paused
                else f"{schedule.name} was already paused.",
                messages.SUCCESS if paused else messages.WARNING,
            )
            return HttpResponseRedirect(schedule_change_url(schedule))
        return self._action_page(
            request, schedule, form, title=f"Pause {schedule.name}", submit="Pause"
        )

    def resume_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        schedule = self._schedule_or_403(
            request, object_id, self.has_pause_permission(request)
        )
        if request.method == "POST":
            resumed = schedule_resume(
                schedule=schedule, by=request.user, now=timezone.now()
            )
            self.message_user(
                request,
                f"{schedule.name} resumed; next run "
                f"{format_instant(schedule.next_run_at) or 'none'}."
                if resumed
                else f"{schedule.name} was not paused.",
                messages.SUCCESS if resumed else messages.WARNING,
            )
            return HttpResponseRedirect(schedule_change_url(schedule))
        return self._action_page(
            request,
            schedule,
            None,
            title=f"Resume {schedule.name}",
            submit="Resume",
            note="Fires that fell while the schedule was paused are not run; "
            "the next run is the first fire after now.",
        )

    def duplicate_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        schedule = self._schedule_or_403(
            request, object_id, self.has_duplicate_permission(request)
        )
        form = DuplicateForm(
            request.POST if request.method == "POST" else None,
            initial={"name": f"{schedule.name}-copy"},
        )
        if form.is_valid():
            try:
                copy = schedule_duplicate(
                    schedule=schedule,
                    by=request.user,
                    name=form.cleaned_data["name"],
                    now=timezone.now(),
                )
            except ValidationError as error:
                for field, problems in error.message_dict.items():
                    for problem in problems:
                        form.add_error("name" if field == "name" else None, problem)
            else:
                self.message_user(
                    request,
                    f"{copy.name} created as a paused copy of {schedule.name}.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(schedule_change_url(copy))
        return self._action_page(
            request,
            schedule,
            form,
            title=f"Duplicate {schedule.name}",
            submit="Create the copy",
        )

    def _action_page(
        self,
        request: HttpRequest,
        schedule: Schedule,
        form: forms.Form | None,
        *,
        title: str,
        submit: str,
        note: str = "",
    ) -> TemplateResponse:
        return TemplateResponse(
            request,
            "admin/schedules/schedule/action_form.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "original": schedule,
                "title": title,
                "form": form,
                "note": note,
                "submit_label": submit,
                "cancel_url": schedule_change_url(schedule),
            },
        )
