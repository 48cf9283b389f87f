from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from scheduler_site import health, views
from scheduler_site.api.views import RedocView, SchemaView, SwaggerView

# Problem details for unknown paths and bugs under /api/; Django's pages elsewhere.
handler404 = "scheduler_site.api.errors.api_not_found"
handler500 = "scheduler_site.api.errors.api_server_error"

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/settings/", views.user_settings, name="user-settings"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("scheduler_site.api.urls")),
    path("rest/ng/", include("scheduler_site.compat.openspecimen.urls")),
    path("api/", include("scheduler_site.compat.conductor.urls")),
    path("", include("executions.urls")),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    path("api/docs/", SwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/redoc/", RedocView.as_view(url_name="schema"), name="redoc"),
]
