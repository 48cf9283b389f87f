from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from core.roles import ROLES


def may_use_admin(user: Any) -> bool:
    if not (user.is_active and user.is_authenticated):
        return False
    return bool(user.is_staff or user.groups.filter(name__in=ROLES).exists())


class RoleAwareAuthenticationForm(AdminAuthenticationForm):
    """The admin login, open to the same people as the admin itself."""

    def confirm_login_allowed(self, user: Any) -> None:
        AuthenticationForm.confirm_login_allowed(self, user)  # active accounts only
        if not may_use_admin(user):
            raise ValidationError(
                self.error_messages["invalid_login"],
                code="invalid_login",
                params={"username": self.username_field.verbose_name},
            )


class SchedulerAdminSite(admin.AdminSite):
    """The admin, open to staff and to members of a role group.

    Roles are the one place rights come from: giving someone the operator role
    should be enough for them to use the admin, without also ticking "staff".
    What they may see and do inside is still decided by their permissions.
    """

    site_header = "Scheduler"
    site_title = "Scheduler"
    index_title = "Dashboard"
    login_form = RoleAwareAuthenticationForm

    def has_permission(self, request: HttpRequest) -> bool:
        return may_use_admin(request.user)
