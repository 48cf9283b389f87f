from __future__ import annotations

from django.apps import AppConfig


class SchedulerSiteConfig(AppConfig):
    name = "scheduler_site"
    verbose_name = "System"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from scheduler_site import signals  # noqa: F401  (connects worker signals)
