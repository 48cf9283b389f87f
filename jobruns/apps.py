from __future__ import annotations

from django.apps import AppConfig


class JobrunsConfig(AppConfig):
    name = "jobruns"
    default_auto_field = "django.db.models.BigAutoField"
