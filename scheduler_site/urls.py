from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from core import views
from core.api.views import RedocView, SchemaView, SwaggerView
from scheduler_site import health

# Problem details for unknown paths and bugs under /api/; Django's pages elsewhere.
handler404 = "core.api.errors.api_not_found"
handler500 = "core.api.errors.api_server_error"

urlpatterns = [
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
