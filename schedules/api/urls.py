from __future__ import annotations

from rest_framework.routers import SimpleRouter

from schedules.api.views import ScheduleViewSet

router = SimpleRouter()
router.register("schedules", ScheduleViewSet, basename="schedule")
urlpatterns = router.urls
