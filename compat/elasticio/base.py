"""Shared plumbing of the elastic.io-compatible endpoints.

Auth is HTTP Basic as the docs' `-u {EMAIL}:{APIKEY}` (the e-mail or username
with a personal API token; a username and password work too) or a Bearer API
token (the OpenAPI file's scheme); more classes can be appended to
AUTHENTICATION_CLASSES. No session auth, so no
CSRF: these endpoints are for programs, not browsers.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiExample
from rest_framework import exceptions, parsers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.authentication import (
    BasicApiKeyAuthentication,
    BearerTokenAuthentication,
)
from core.api.parsers import JSONParser
from core.permissions import HasActionPermission

AUTHENTICATION_CLASSES = [BasicApiKeyAuthentication, BearerTokenAuthentication]


class JsonApiParser(JSONParser):
    media_type = "application/vnd.api+json"


def request_examples(name: str, value: dict[str, Any]) -> list[OpenApiExample]:
    """The example once per media type we parse: the schema lists it under each."""
    return [
        OpenApiExample(name, value=value, request_only=True, media_type=media_type)
        for media_type in (parsers.JSONParser.media_type, JsonApiParser.media_type)
    ]


class CompatView(APIView):
    """An APIView whose errors take the external API's shape (`error_body`)."""

    authentication_classes = AUTHENTICATION_CLASSES
    permission_classes = [HasActionPermission]
    method_permissions = {
        "POST": "executions.add_execution",
        "GET": "executions.view_execution",
    }
    parser_classes = [JSONParser, JsonApiParser]

    def error_body(self, status: int, detail: Any) -> dict[str, Any]:
        raise NotImplementedError

    def get_exception_handler(self) -> Any:
        return self._handle

    def _handle(self, exc: Exception, context: dict[str, Any]) -> Response | None:
        if isinstance(exc, Http404):
            exc = exceptions.NotFound()
        elif isinstance(exc, DjangoValidationError):
            exc = exceptions.ValidationError(
                exc.message_dict if hasattr(exc, "error_dict") else exc.messages
            )
        if not isinstance(exc, exceptions.APIException):
            return None
        if isinstance(exc, exceptions.NotAuthenticated):
            exc.detail = exceptions.ErrorDetail("No authorization header was provided.")
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
        return Response(
            self.error_body(exc.status_code, exc.detail),
            status=exc.status_code,
            headers=headers,
        )


def flat_errors(detail: Any, path: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """DRF error detail as (JSON pointer, message) pairs."""
    if isinstance(detail, dict):
        return [
            pair
            for key, value in detail.items()
            for pair in flat_errors(
                value, path if key == "non_field_errors" else (*path, str(key))
            )
        ]
    if isinstance(detail, list):
        return [pair for item in detail for pair in flat_errors(item, path)]
    return [("/" + "/".join(path), str(detail))]
