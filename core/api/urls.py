from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from core.api.views import ApiTokenViewSet, AuditEventViewSet, MeView

router = SimpleRouter()
router.register("me/tokens", ApiTokenViewSet, basename="apitoken")
router.register("audit", AuditEventViewSet, basename="auditevent")

urlpatterns = [
    path("me/", MeView.as_view(), name="api-me"),
    *router.urls,
]
