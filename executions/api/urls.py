from __future__ import annotations

from rest_framework.routers import DefaultRouter

from executions.api.views import ComponentViewSet, CredentialViewSet, ExecutionViewSet

app_name = "executions-api"

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("executions", ExecutionViewSet, basename="execution")
router.register("components", ComponentViewSet, basename="component")
router.register("credentials", CredentialViewSet, basename="credential")

urlpatterns = router.urls
