"""``X-OS-API-TOKEN``: an OpenSpecimen session token is one of our API tokens.

`POST /rest/ng/sessions` creates a personal API token with an expiry; this
class reads it back from the header OpenSpecimen clients send. HTTP Basic is
accepted beside it (``BasicAuthentication``), as OpenSpecimen accepts it.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from core.accounts import api_token_authenticate

HEADER = "X-OS-API-TOKEN"
_META_KEY = "HTTP_X_OS_API_TOKEN"


class OsTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        raw = request.META.get(_META_KEY)
        if raw is None:
            return None
        raw = raw.strip()
        token = api_token_authenticate(raw=raw, now=timezone.now()) if raw else None
        if token is None:
            raise exceptions.AuthenticationFailed(
                "The session token is invalid, expired or logged out; sign in "
                "again with POST /rest/ng/sessions."
            )
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        # Any value makes DRF answer 401 (not 403) to an anonymous call.
        return 'Basic realm="openspecimen"'
