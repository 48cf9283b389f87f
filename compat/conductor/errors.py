"""Conductor's error body: ``{"status", "message", "instance", "retryable"}``.

Field errors from our services (keyed by our field names) are reported under the
wire names a Conductor client sent, in ``validationErrors`` and in ``message``
(so a bad cron expression answers 400 with a message that names the problem,
which is also what the SDK's ``_translate`` looks for). 401/403 for a bad or
expired token carry ``"error": "INVALID_TOKEN" | "EXPIRED_TOKEN"``, on which the
SDK refreshes its token and retries once.
"""

from __future__ import annotations

import logging
import socket
from functools import cache
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

logger = logging.getLogger(__name__)

# Our field name -> the Conductor field a client sent.
WIRE_FIELDS = {
    "name": "name",
    "kind": "cronExpression",
    "cron_expression": "cronExpression",
    "cron_dialect": "cronExpression",
    "time_zone": "zoneId",
    "start_at": "scheduleStartTime",
    "end_at": "scheduleEndTime",
    "description": "description",
    "paused_reason": "pausedReason",
    "missed_policy": "runCatchupScheduleInstances",
    "target": "startWorkflowRequest.name",
    "service": "startWorkflowRequest.name",
    "input": "startWorkflowRequest.input",
    "correlation_id": "startWorkflowRequest.correlationId",
    "priority": "startWorkflowRequest.priority",
    "count": "limit",
    "tags": "tags",
}


class TokenInvalid(exceptions.AuthenticationFailed):
    default_detail = "The token in X-Authorization is not valid; get a new one."
    default_code = "INVALID_TOKEN"


class TokenExpired(exceptions.AuthenticationFailed):
    default_detail = "The token in X-Authorization has expired; get a new one."
    default_code = "EXPIRED_TOKEN"


class OpenModeMisconfigured(exceptions.APIException):
    status_code = status.HTTP_500_INTERNAL_SERVER_ERROR
    default_code = "misconfigured"


@cache
def _instance() -> str:
    return socket.gethostname()


def error_body(code: int, message: str, **extra: Any) -> dict[str, Any]:
    return {
        "status": code,
        "message": message,
        "instance": _instance(),
        "retryable": code >= 500 or code == status.HTTP_429_TOO_MANY_REQUESTS,
        **extra,
    }


def fault_response(request: HttpRequest, code: int, detail: str) -> JsonResponse:
    """A fault outside the views' handler (database down, a bug) in this shape."""
    return JsonResponse(error_body(code, detail), status=code)


def _flatten(detail: Any, path: str = "") -> list[tuple[str, str]]:
    """DRF or Django error detail as (wire path, message) pairs."""
    if isinstance(detail, dict):
        pairs = []
        for key, value in detail.items():
            name = WIRE_FIELDS.get(str(key), str(key))
            if name in {"__all__", "non_field_errors"}:
                name = ""
            pairs += _flatten(
                value, f"{path}.{name}" if path and name else name or path
            )
        return pairs
    if isinstance(detail, list):
        return [pair for item in detail for pair in _flatten(item, path)]
    return [(path, str(detail))]


def _validation_response(detail: Any) -> Response:
    pairs = _flatten(detail)
    message = "; ".join(f"{path}: {text}" if path else text for path, text in pairs)
    errors = [{"path": path, "message": text} for path, text in pairs]
    return Response(
        error_body(400, message or "Invalid request.", validationErrors=errors),
        status=400,
    )


def conductor_exception_handler(
    exc: Exception, context: dict[str, Any]
) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        return _validation_response(
            exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        )
    if isinstance(exc, exceptions.ValidationError):
        return _validation_response(exc.detail)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None  # a bug: Django logs it and answers 500
    extra: dict[str, Any] = {}
    if isinstance(exc, TokenInvalid | TokenExpired):
        extra["error"] = exc.default_code
    response = Response(
        error_body(exc.status_code, str(exc.detail), **extra), status=exc.status_code
    )
    if getattr(exc, "auth_header", None):
        response["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
    if getattr(exc, "wait", None):
        response["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]
    return response
