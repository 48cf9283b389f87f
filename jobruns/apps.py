from __future__ import annotations

from django.apps import AppConfig


class JobrunsConfig(AppConfig):
    name = "jobruns"
    verbose_name = "Job runs"
    default_auto_field = "django.db.models.BigAutoField"
