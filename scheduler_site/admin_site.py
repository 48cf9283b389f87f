from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest

from scheduler_site.roles import ROLES


class SchedulerAdminSite(admin.AdminSite):
    """The admin, open to staff and to members of a role group.

    Roles are the one place rights come from: giving someone the operator role
    should be enough for them to use the admin, without also ticking "staff".
    What they may see and do inside is still decided by their permissions.
    """

    site_header = "Scheduler"
    site_title = "Scheduler"
    index_title = "Dashboard"

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        if not (user.is_active and user.is_authenticated):
            return False
        return bool(user.is_staff or user.groups.filter(name__in=ROLES).exists())


class SchedulerAdminConfig(AdminConfig):
    default_site = "scheduler_site.admin_site.SchedulerAdminSite"
