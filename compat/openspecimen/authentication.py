"""``X-OS-API-TOKEN``: an OpenSpecimen session token is one of our API tokens.

`POST /rest/ng/sessions` creates a personal API token with an expiry; this
class reads it back from the header OpenSpecimen clients send. HTTP Basic is
accepted beside it (``CachedBasicAuthentication``), as OpenSpecimen accepts
it; clients should prefer the session token, which costs one indexed lookup
where a password check costs a deliberately slow hash.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from core.accounts import api_token_authenticate

HEADER = "X-OS-API-TOKEN"
# How long a successful HTTP Basic check is remembered (per process cache).
BASIC_CHECK_SECONDS = 60
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


class CachedBasicAuthentication(authentication.BasicAuthentication):
    """HTTP Basic with a successful check remembered for BASIC_CHECK_SECONDS.

    OpenSpecimen scripts send Basic on every call, and the password hasher is
    slow on purpose (~600 ms here), so every call paid it. The cache key is an
    HMAC (SECRET_KEY) of username and password: the password is never stored,
    and a wrong password has another key, so it always takes the full check.
    The cached value holds an HMAC of the user's stored password hash, so a
    password change (or a disabled account) ends the shortcut at once.
    """

    def authenticate_credentials(
        self, userid: str, password: str, request: Any = None
    ) -> tuple[Any, None]:
        key = "os-basic:" + _mac(f"{userid}\0{password}")
        remembered = cache.get(key)
        if remembered is not None:
            user_pk, password_mac = remembered
            user = get_user_model()._default_manager.filter(pk=user_pk).first()
            if (
                user is not None
                and user.is_active
                and user.get_username() == userid
                and hmac.compare_digest(password_mac, _mac(user.password))
            ):
                return user, None
            cache.delete(key)
        user, auth = super().authenticate_credentials(userid, password, request)
        cache.set(key, (user.pk, _mac(user.password)), BASIC_CHECK_SECONDS)
        return user, auth


def _mac(text: str) -> str:
    return hmac.new(
        settings.SECRET_KEY.encode(), text.encode(), hashlib.sha256
    ).hexdigest()
