"""The admin app, with our site (kept apart: INSTALLED_APPS imports it early)."""

from __future__ import annotations

from django.contrib.admin.apps import AdminConfig


class SchedulerAdminConfig(AdminConfig):
    default_site = "scheduler_site.admin_site.SchedulerAdminSite"
