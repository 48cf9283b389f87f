from __future__ import annotations

from django.apps import AppConfig


class ConnectionsConfig(AppConfig):
    name = "connections"
    verbose_name = "Outgoing connections"
    default_auto_field = "django.db.models.BigAutoField"
