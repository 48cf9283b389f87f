from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from core.accounts import api_token_authenticate


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <personal API token>``."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = authentication.get_authorization_header(request).decode(
            "latin-1", errors="replace"
        )
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != self.keyword.lower():
            return None
        raw = raw.strip()
        if not raw:
            raise exceptions.AuthenticationFailed("Bearer token missing.")
        token = api_token_authenticate(raw=raw, now=timezone.now())
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class BasicApiKeyAuthentication(authentication.BasicAuthentication):
    """HTTP Basic whose password may be a personal API token.

    elastic.io documents its API as ``curl -u {EMAIL}:{APIKEY}``: a client of
    that API sends its key as the Basic password. The user part must name the
    token's owner (e-mail or username); a password that is no live token is
    checked as the account password, as plain Basic does.
    """

    def authenticate_credentials(
        self, userid: str, password: str, request: Any = None
    ) -> tuple[Any, Any]:
        token = api_token_authenticate(raw=password, now=timezone.now())
        if token is None:
            return super().authenticate_credentials(userid, password, request)
        user = token.user
        if userid.casefold() not in {
            (user.email or "").casefold(),
            user.get_username().casefold(),
        }:
            raise exceptions.AuthenticationFailed("Invalid e-mail or API key.")
        return user, token


class BasicApiKeyScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = BasicApiKeyAuthentication
    name = "basicAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "basic",
            "description": "E-mail (or username) and a personal API token, "
            "or username and password.",
        }


class BearerTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = BearerTokenAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer"}
