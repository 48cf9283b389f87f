from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from compat.conductor.errors import fault_response as conductor_fault
from compat.elasticio import v1 as elasticio_v1
from compat.elasticio import v2 as elasticio_v2
from compat.openspecimen.errors import fault_response as openspecimen_fault
from core import views
from core.api.errors import register_error_shape
from core.api.views import RedocView, SchemaView, SwaggerView
from scheduler_site import health

# Unknown paths, bugs and an unreachable database answer in the error shape of
# the API mounted at the path (problem details elsewhere under /api/, Django's
# pages outside the APIs). Kept beside the mounts below: same prefixes.
handler404 = "core.api.errors.api_not_found"
handler500 = "core.api.errors.api_server_error"
register_error_shape("/rest/ng/", openspecimen_fault)
for _conductor_path in ("/api/scheduler", "/api/token", "/api/workflow"):
    register_error_shape(_conductor_path, conductor_fault)
register_error_shape("/v1/exec/", elasticio_v1.fault_response)
register_error_shape("/v2/", elasticio_v2.fault_response)

urlpatterns = [
    # The admin's dashboard is the product's front page.
    path("", RedirectView.as_view(pattern_name="admin:index"), name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/settings/", views.user_settings, name="user-settings"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("core.api.urls")),
    path("api/v1/", include("schedules.api.urls")),
    path("api/v1/", include("jobruns.api.urls")),
    path("api/v1/", include("executions.api.urls")),
    path("api/v1/", include("connections.api.urls")),
    path("rest/ng/", include("compat.openspecimen.urls")),
    path("api/", include("compat.conductor.urls")),
    path("", include("compat.elasticio.urls")),
    path("", include("executions.urls")),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    path("api/docs/", SwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/redoc/", RedocView.as_view(url_name="schema"), name="redoc"),
]
