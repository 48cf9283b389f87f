"""One error shape for the native API: RFC 9457 problem details.

``{"type", "title", "status", "detail", "instance", "errors": {field: [messages]}}``
served as ``application/problem+json``. Django ``ValidationError`` raised by
services becomes a 400 with the same field keys, so no view has to translate.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

PROBLEM_TYPE_BASE = "https://scheduler.invalid/problems/"

_TITLES = {
    400: "Invalid request",
    401: "Authentication required",
    403: "Permission denied",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    412: "Precondition failed",
    413: "Request body too large",
    415: "Unsupported media type",
    429: "Too many requests",
}


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The resource changed since you read it (stale If-Match)."
    default_code = "precondition_failed"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def _django_validation_to_drf(exc: DjangoValidationError) -> exceptions.ValidationError:
    if hasattr(exc, "error_dict"):
        return exceptions.ValidationError(exc.message_dict)
    return exceptions.ValidationError({"non_field_errors": exc.messages})


def _field_errors(detail: Any) -> dict[str, list[str]] | None:
    if isinstance(detail, dict):
        return {
            str(key): [str(m) for m in (value if isinstance(value, list) else [value])]
            for key, value in detail.items()
        }
    if isinstance(detail, list):
        return {"non_field_errors": [str(m) for m in detail]}
    return None


def problem_exception_handler(
    exc: Exception, context: dict[str, Any]
) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        exc = _django_validation_to_drf(exc)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    request = context.get("request")
    code = response.status_code
    errors = _field_errors(response.data) if code == 400 else None
    detail = response.data.get("detail") if isinstance(response.data, dict) else None
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE
        + _TITLES.get(code, "error").lower().replace(" ", "-"),
        "title": _TITLES.get(code, "Error"),
        "status": code,
        "detail": str(detail) if detail else _TITLES.get(code, "Error"),
        "instance": request.get_full_path() if request is not None else None,
    }
    if errors is not None:
        body["detail"] = "One or more fields are invalid."
        body["errors"] = errors
    response.data = body
    response.content_type = "application/problem+json"
    return response
