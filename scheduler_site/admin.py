"""django-celery-beat's tables: shown to superusers only, and read-only.

They hold the system's own periodic tasks (reaper, prune, worker heartbeat),
which migrations create; editing them in the admin would silently break the
reaper, and operators schedule their work with our Schedule, not with these.
So operators do not see them at all, and superusers may look but not touch.
The admin site lists them under "System" (admin_site.get_app_list).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)

BEAT_MODELS = (
    PeriodicTask,
    CrontabSchedule,
    IntervalSchedule,
    ClockedSchedule,
    SolarSchedule,
)


class SystemReadOnly:
    """Superusers may view; nobody may add, change, delete or run actions."""

    actions: Any = ()

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _is_superuser(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_superuser(request)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _is_superuser(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_active and user.is_superuser)


def _register_read_only() -> None:
    # django-celery-beat registered its own admins first (it comes before this
    # package in INSTALLED_APPS); keep their columns and filters, drop the rights.
    for model in BEAT_MODELS:
        if not admin.site.is_registered(model):
            continue
        original = type(admin.site.get_model_admin(model))
        admin.site.unregister(model)
        read_only = type(f"ReadOnly{original.__name__}", (SystemReadOnly, original), {})
        admin.site.register(model, read_only)


_register_read_only()
