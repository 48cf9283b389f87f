from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver, path, reverse_lazy
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache

from core.roles import ROLES
from scheduler_site.dashboard import dashboard_context

BEAT_APP = "django_celery_beat"
SYSTEM_APP = "scheduler_site"  # core's label: accounts, audit, heartbeats
SYSTEM_NAME = "System"


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
    # "View site" and "/" lead to the dashboard: the admin is the product's UI.
    site_url = reverse_lazy("admin:index")  # type: ignore[assignment]
    index_template = "admin/dashboard.html"

    def has_permission(self, request: HttpRequest) -> bool:
        return may_use_admin(request.user)

    def get_urls(self) -> list[URLResolver | URLPattern]:
        figures = self.admin_view(self.dashboard_figures)
        return [
            path("dashboard/figures/", figures, name="dashboard-figures"),
            *super().get_urls(),
        ]

    @method_decorator(never_cache)
    def index(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> TemplateResponse:
        """The dashboard, with the app list in the sidebar (and below it on phones)."""
        figures = dashboard_context(request, now=timezone.now())
        return super().index(request, {**figures, **(extra_context or {})})

    def dashboard_figures(self, request: HttpRequest) -> HttpResponse:
        """The figures alone, which the dashboard script re-fetches."""
        # admin_view() marks it never_cache: a refresh always reads fresh figures.
        return TemplateResponse(
            request,
            "admin/dashboard_figures.html",
            dashboard_context(request, now=timezone.now()),
        )

    def get_app_list(
        self, request: HttpRequest, app_label: str | None = None
    ) -> list[dict[str, Any]]:
        """django-celery-beat's tables listed under "System" (superusers only see
        them, see scheduler_site/admin.py), not as an app of their own."""
        apps = super().get_app_list(request, app_label)
        beat = next((a for a in apps if a["app_label"] == BEAT_APP), None)
        if beat is None:
            return apps
        system = next((a for a in apps if a["app_label"] == SYSTEM_APP), None)
        if system is None:
            beat["name"] = SYSTEM_NAME
            return apps
        system["models"] = sorted(
            [*system["models"], *beat["models"]], key=lambda m: str(m["name"])
        )
        return [a for a in apps if a is not beat]
