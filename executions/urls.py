"""The demo shop executions serve for the WooCommerce example component."""

from __future__ import annotations

from django.urls import path

from executions import demo

urlpatterns = [
    path("demo/shop/wp-json/wc/v3/products/categories", demo.categories),
    path("demo/shop/wp-json/wc/v3/products", demo.products),
]
