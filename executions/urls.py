"""Everything executions serves: native API, elastic.io v1/v2, the demo shop."""

from __future__ import annotations

from django.urls import include, path

from executions import demo

urlpatterns = [
    path("api/v1/", include("executions.api.urls")),
    path("", include("executions.compat.urls")),
    path("demo/shop/wp-json/wc/v3/products/categories", demo.categories),
    path("demo/shop/wp-json/wc/v3/products", demo.products),
]
