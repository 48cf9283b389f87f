from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from core.timefmt import hour12_preference


class UserTimeZoneMiddleware:
    """Activate the signed-in user's zone and clock, so every date is shown in them.

    Django's forms and templates convert aware datetimes through the active
    zone; activating it per request is what makes the whole admin speak the
    user's local time while the database keeps UTC. The 12/24-hour choice is a
    context variable read by `core.timefmt.format_instant`; it is reset after
    the response so a thread serving the next user does not inherit it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone_name, hour12 = _user_preferences(request)
        if zone_name:
            timezone.activate(ZoneInfo(zone_name))
        token = hour12_preference.set(hour12)
        try:
            return self.get_response(request)
        finally:
            hour12_preference.reset(token)
            timezone.deactivate()


def _user_preferences(request: HttpRequest) -> tuple[str | None, bool]:
    from core.models import UserProfile

    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None, False
    try:
        profile = user.profile
    except UserProfile.DoesNotExist:
        return None, False
    return str(profile.time_zone), bool(profile.hour12)
