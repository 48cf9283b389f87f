from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

from django.http import HttpRequest, HttpResponse
from django.utils import timezone


class UserTimeZoneMiddleware:
    """Activate the signed-in user's zone, so every date is shown and read in it.

    Django's forms and templates convert aware datetimes through the active
    zone; activating it per request is what makes the whole admin speak the
    user's local time while the database keeps UTC.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone_name = _user_zone(request)
        if zone_name:
            timezone.activate(ZoneInfo(zone_name))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


def _user_zone(request: HttpRequest) -> str | None:
    from core.models import UserProfile

    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    try:
        return str(user.profile.time_zone)
    except UserProfile.DoesNotExist:
        return None
