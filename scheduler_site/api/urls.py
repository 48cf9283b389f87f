from __future__ import annotations

from django.urls import include, path

from scheduler_site.api.views import MeView

urlpatterns = [
    path("me/", MeView.as_view(), name="api-me"),
    path("", include("schedules.api.urls")),
]
