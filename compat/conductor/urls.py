"""Mounted under /api/ (scheduler_site/urls.py): what the SDK appends to .../api."""

from __future__ import annotations

from django.urls import path, re_path

from compat.conductor import views

S = "scheduler/"

urlpatterns = [
    path(S + "schedules", views.SchedulesView.as_view(), name="conductor-schedules"),
    path(
        S + "schedules/<str:name>",
        views.ScheduleView.as_view(),
        name="conductor-schedule",
    ),
    path(
        S + "schedules/<str:name>/pause",
        views.SchedulePauseView.as_view(),
        name="conductor-schedule-pause",
    ),
    path(
        S + "schedules/<str:name>/resume",
        views.ScheduleResumeView.as_view(),
        name="conductor-schedule-resume",
    ),
    path(
        S + "schedules/<str:name>/tags",
        views.ScheduleTagsView.as_view(),
        name="conductor-schedule-tags",
    ),
    path(S + "admin/pause", views.PauseAllView.as_view(), name="conductor-pause-all"),
    path(
        S + "admin/resume", views.ResumeAllView.as_view(), name="conductor-resume-all"
    ),
    path(S + "admin/requeue", views.RequeueView.as_view(), name="conductor-requeue"),
    path(S + "requeue", views.RequeueView.as_view(), name="conductor-requeue-doc"),
    path(
        S + "nextFewSchedules",
        views.NextFewSchedulesView.as_view(),
        name="conductor-next-few",
    ),
    path(
        S + "nextFewRuns",
        views.NextFewSchedulesView.as_view(),
        name="conductor-next-few-doc",
    ),
    path(
        S + "search/executions",
        views.SearchExecutionsView.as_view(),
        name="conductor-search-executions",
    ),
    path(
        S + "test/timeout",
        views.TestTimeoutView.as_view(),
        name="conductor-test-timeout",
    ),
    re_path(
        r"^scheduler(/.*)?$", views.NotFoundView.as_view(), name="conductor-not-found"
    ),
    path("token", views.TokenView.as_view(), name="conductor-token"),
    path("workflow", views.StartWorkflowView.as_view(), name="conductor-workflow"),
]
