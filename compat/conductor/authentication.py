"""How a Conductor client is identified.

With keys (the default, `CONDUCTOR_AUTH_REQUIRED=true`): the SDK trades its key
id and secret for a token at `POST /api/token` and sends it as `X-Authorization`;
the call acts as the key's user. Our personal Bearer tokens and the admin
session work too.

Open mode (`CONDUCTOR_AUTH_REQUIRED=false`): the SDK without auth settings sends
no header at all, and the project rule is that every endpoint acts as somebody.
So calls without credentials act as the service user named by
`CONDUCTOR_ANONYMOUS_USER`, which must exist; its groups decide what the open
API may do (put it in "viewer" for a read-only open API, "editor" for all).
Credentials that are sent are still checked.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework import authentication
from rest_framework.request import Request

from compat.conductor.errors import OpenModeMisconfigured
from compat.conductor.services import conductor_token_authenticate

HEADER = "X-Authorization"


class ConductorTokenAuthentication(authentication.BaseAuthentication):
    """`X-Authorization: <token from /api/token>`."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        raw = request.headers.get(HEADER, "").strip()
        if not raw:
            return None
        key = conductor_token_authenticate(token=raw, now=timezone.now())
        return key.user, key

    def authenticate_header(self, request: Request) -> str:
        return 'X-Authorization realm="conductor"'


class ConductorOpenModeAuthentication(authentication.BaseAuthentication):
    """Last in line: with key auth switched off, nobody is the service user."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        if settings.CONDUCTOR_AUTH_REQUIRED:
            return None
        username = settings.CONDUCTOR_ANONYMOUS_USER
        user = get_user_model().objects.filter(**{"username": username}).first()
        if user is None or not user.is_active:
            raise OpenModeMisconfigured(
                f"CONDUCTOR_AUTH_REQUIRED is off, so calls without a token act as "
                f"CONDUCTOR_ANONYMOUS_USER={username!r}, but no active user has "
                "that name; create it (and put it in a group) or turn key auth on"
            )
        return user, None
