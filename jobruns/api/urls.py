from __future__ import annotations

from rest_framework.routers import SimpleRouter

from jobruns.api.views import JobRunViewSet, ServiceViewSet

router = SimpleRouter()
router.register("runs", JobRunViewSet, basename="jobrun")
router.register("services", ServiceViewSet, basename="service")
urlpatterns = router.urls
