"""Rate limits for the endpoints that take or hand out credentials."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from core.audit import client_address


class AuthRateThrottle(SimpleRateThrottle):
    """AUTH_THROTTLE_RATE (default 20/min) per user, or per client address.

    For token creation here and the compatible logins (`/api/token`,
    `/rest/ng/sessions`): guessing a password or minting tokens in bulk is what
    it slows down. A refusal is a 429 problem with Retry-After.
    """

    scope = "auth"

    def get_rate(self) -> str | None:
        # Read per request, not at import: settings change in tests and deploys.
        return str(settings.AUTH_THROTTLE_RATE)

    def get_cache_key(self, request: Request, view: Any) -> str:
        user = getattr(request, "user", None)
        # Not DRF's get_ident: it believes any X-Forwarded-For, so a client
        # could dodge the limit by sending a new one with every request.
        ident = (
            f"user-{user.pk}"
            if user is not None and user.is_authenticated
            else client_address(request._request) or "unknown"
        )
        return self.cache_format % {"scope": self.scope, "ident": ident}
