"""OpenSpecimen's error shape: a JSON array of ``{"code", "message"}``.

Statuses as OpenSpecimen's RestErrorController sets them: a user error
(validation, not found, not allowed) is 400, an authentication failure 401,
a body or query parameter that does not parse 400 ``INVALID_REQUEST``, and an
unknown endpoint or method a Spring ProblemDetail (404 / 405).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, JsonResponse
from django.utils.html import escape
from rest_framework import exceptions, status
from rest_framework.response import Response

PREFIX = "SCHEDULED_JOB_"
INVALID_REQUEST = "INVALID_REQUEST"
# Our additions (OpenSpecimen has no code for these situations):
RUN_IN_PROGRESS = PREFIX + "RUN_IN_PROGRESS"  # it silently drops such a request
UNAUTHORIZED = "UNAUTHORIZED"
INVALID_CREDENTIALS = "AUTH_INVALID_CREDENTIALS"
TOO_MANY_REQUESTS = "TOO_MANY_REQUESTS"
INTERNAL_ERROR = "INTERNAL_ERROR"
SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
_FAULT_CODES = {500: INTERNAL_ERROR, 503: SERVICE_UNAVAILABLE}

# Which OpenSpecimen code a service's ValidationError key stands for.
_FIELD_CODES = {
    "name": PREFIX + "DUP_JOB_NAME",
    "target": PREFIX + "INVALID_TASK_IMPL_FQN",
    "service": PREFIX + "INVALID_TASK_IMPL_FQN",
    "end_at": PREFIX + "END_DATE_BEFORE_START_DATE",
}
_TIMING_FIELDS = frozenset(
    {
        "kind", "time_zone", "run_at", "start_at", "cron_expression",
        "cron_dialect", "interval_minutes", "interval_hours", "interval_seconds",
        "interval_days", "interval_weeks", "repeats",
    }
)  # fmt: skip


class OsError(exceptions.APIException):
    """An OpenSpecimen user error: `code` is sent as is, status 400 by default."""

    status_code: int = status.HTTP_400_BAD_REQUEST

    def __init__(self, code: str, message: str, status_code: int = 400) -> None:
        super().__init__(detail=message)
        self.code = code
        self.status_code = status_code


def job_error(name: str, message: str) -> OsError:
    """A ScheduledJobErrorCode (``SCHEDULED_JOB_`` + name)."""
    return OsError(PREFIX + name, message)


def error_body(code: str, message: str) -> list[dict[str, str]]:
    # OpenSpecimen HTML-escapes its messages but keeps the quotes readable.
    text = escape(message).replace("&quot;", '"').replace("&#x27;", "'")
    return [{"code": code, "message": text}]


def _from_validation(exc: DjangoValidationError) -> OsError:
    """A service's ValidationError({field: [msg]}) as the closest OpenSpecimen code."""
    if not hasattr(exc, "error_dict"):
        return OsError(INVALID_REQUEST, "; ".join(exc.messages))
    field, messages = next(iter(exc.message_dict.items()))
    message = "; ".join(messages)
    code = _FIELD_CODES.get(field)
    if field == "end_at" and "past" in message:
        code = PREFIX + "INVALID_SCHEDULED_TIME"
    if field == "name" and "already exists" not in message:
        code = INVALID_REQUEST
    if code is None:
        code = PREFIX + "INVALID_SCHEDULED_TIME" if field in _TIMING_FIELDS else None
    return OsError(code or INVALID_REQUEST, f"{field}: {message}")


def _translate(exc: Exception) -> OsError | exceptions.APIException | None:
    if isinstance(exc, OsError):
        return exc
    if isinstance(exc, DjangoValidationError):
        return _from_validation(exc)
    if isinstance(exc, Http404):
        return OsError(INVALID_REQUEST, "The requested resource was not found.")
    if isinstance(exc, PermissionDenied | exceptions.PermissionDenied):
        return job_error("OP_NOT_ALLOWED", "You are not allowed to do this.")
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        return OsError(UNAUTHORIZED, str(exc.detail), status_code=401)
    if isinstance(exc, exceptions.Throttled):
        return OsError(TOO_MANY_REQUESTS, str(exc.detail), status_code=429)
    if isinstance(exc, exceptions.ParseError | exceptions.UnsupportedMediaType):
        return OsError(INVALID_REQUEST, str(exc.detail))
    if isinstance(exc, exceptions.APIException):
        return exc
    return None


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Every error of these views in OpenSpecimen's shape; None lets a 500 be a 500."""
    translated = _translate(exc)
    if translated is None:
        return None
    request = context.get("request")
    if isinstance(translated, exceptions.MethodNotAllowed):
        method = request.method if request is not None else "?"
        detail = f"The {escape(method)} method is not supported for this endpoint."
        return _problem(405, "Method Not Allowed", detail, request)
    if not isinstance(translated, OsError):
        translated = OsError(
            INVALID_REQUEST, str(translated.detail), translated.status_code
        )
    headers: dict[str, str] = {}
    if translated.status_code == 401:
        headers["WWW-Authenticate"] = 'Basic realm="openspecimen"'
    return Response(
        error_body(translated.code, str(translated.detail)),
        status=translated.status_code,
        headers=headers,
    )


def _problem(code: int, title: str, detail: str, request: Any) -> Response:
    return Response(
        {
            "type": "about:blank",
            "title": title,
            "status": code,
            "detail": detail,
            "instance": request.path if request is not None else "",
        },
        status=code,
        content_type="application/problem+json",
    )


def fault_response(request: HttpRequest, code: int, detail: str) -> JsonResponse:
    """A fault outside the views' handler (database down, a bug) in this shape."""
    return JsonResponse(
        error_body(_FAULT_CODES.get(code, INVALID_REQUEST), detail),
        status=code,
        safe=False,
    )


def endpoint_not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """Any other path under /rest/ng/: the newest OpenSpecimen's ProblemDetail 404."""
    return JsonResponse(
        {
            "type": "about:blank",
            "title": "Not Found",
            "status": 404,
            "detail": "The requested endpoint was not found.",
            "instance": request.path,
        },
        status=404,
        content_type="application/problem+json",
    )
