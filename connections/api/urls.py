from __future__ import annotations

from rest_framework.routers import SimpleRouter

from connections.api.views import ConnectionViewSet

router = SimpleRouter()
router.register("connections", ConnectionViewSet, basename="connection")
urlpatterns = router.urls
