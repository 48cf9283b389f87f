from __future__ import annotations

from django.urls import re_path
from rest_framework.routers import SimpleRouter

from jobruns.api.views import JobRunViewSet, ScheduleRunNowView, ServiceViewSet
from schedules.api.views import ScheduleViewSet

router = SimpleRouter()
router.register("runs", JobRunViewSet, basename="jobrun")
router.register("services", ServiceViewSet, basename="service")
urlpatterns = [
    *router.urls,
    re_path(
        rf"^schedules/(?P<name>{ScheduleViewSet.lookup_value_regex})/run-now/$",
        ScheduleRunNowView.as_view(),
        name="schedule-run-now",
    ),
]
