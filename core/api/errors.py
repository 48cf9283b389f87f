"""One error shape for the native API: RFC 9457 problem details.

``{"type", "title", "status", "detail", "instance", "errors": {field: [messages]}}``
served as ``application/problem+json``. Django ``ValidationError`` raised by
services becomes a 400 with the same field keys, so no view has to translate;
one whose every error carries a conflict code (a taken name, a run already in
progress) is a 409 with the same ``errors``. The 404 and 500 pages of paths
under /api/ and a too-large body answer in the same shape (`api_not_found`,
`api_server_error`, `BodyLimitMiddleware`).

The compatible APIs mounted beside it answer in their own shapes; the site
registers each mount point's renderer (`register_error_shape`), so a fault
raised outside any view's own handler (the database down, a bug) is still
answered in the shape the client of that path understands.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.codes import CONFLICT_CODES
from core.text import NUL

logger = logging.getLogger(__name__)

PROBLEM_TYPE_BASE = "https://scheduler.invalid/problems/"
# Database errors that say "not now" rather than "this request is wrong": the
# server is down, unreachable or restarting, or dropped the connection.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 5

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
    500: "Server error",
    503: "Service unavailable",
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


class ValidationConflict(exceptions.APIException):
    """A service's ValidationError whose every error has a conflict code."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


def _django_validation_to_drf(exc: DjangoValidationError) -> exceptions.APIException:
    if hasattr(exc, "error_dict"):
        detail: dict[str, list[str]] = exc.message_dict
        codes = {e.code for errors in exc.error_dict.values() for e in errors}
    else:
        detail = {"non_field_errors": exc.messages}
        codes = {e.code for e in exc.error_list}
    if codes and codes <= CONFLICT_CODES:
        return ValidationConflict(detail)
    return exceptions.ValidationError(detail)


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
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or None)
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    request = context.get("request")
    code = response.status_code
    has_fields = isinstance(exc, exceptions.ValidationError | ValidationConflict)
    errors = _field_errors(response.data) if has_fields else None
    detail = response.data.get("detail") if isinstance(response.data, dict) else None
    body = problem(code, str(detail) if detail else None, request)
    if errors is not None:
        body["detail"] = (
            "One or more fields are invalid."
            if code == 400
            else "; ".join(m for messages in errors.values() for m in messages)
        )
        body["errors"] = errors
    response.data = body
    response.content_type = "application/problem+json"
    return response


def problem(code: int, detail: str | None, request: Any) -> dict[str, Any]:
    """The problem body for `code`; the one place its shape is written."""
    title = _TITLES.get(code, "Error")
    return {
        "type": PROBLEM_TYPE_BASE + title.lower().replace(" ", "-"),
        "title": title,
        "status": code,
        "detail": detail or title,
        "instance": request.get_full_path() if request is not None else None,
    }


def problem_response(
    request: HttpRequest, code: int, detail: str | None = None
) -> JsonResponse:
    """A problem answered outside DRF (middleware, URL resolver handlers)."""
    return JsonResponse(
        problem(code, detail, request),
        status=code,
        content_type="application/problem+json",
    )


def _is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith("/api/")


# --- one error shape per mount point -----------------------------------------------
ErrorRenderer = Callable[[HttpRequest, int, str], HttpResponse]
_SHAPES: dict[str, ErrorRenderer] = {}


def register_error_shape(prefix: str, render: ErrorRenderer) -> None:
    """Paths under `prefix` answer faults through `render(request, status, detail)`."""
    _SHAPES[prefix] = render


def error_response(request: HttpRequest, code: int, detail: str) -> HttpResponse | None:
    """`code` in the shape of the API the path belongs to; None outside the APIs."""
    path = request.path_info
    matching = [prefix for prefix in _SHAPES if path.startswith(prefix)]
    if matching:
        return _SHAPES[max(matching, key=len)](request, code, detail)
    if _is_api(request):
        return problem_response(request, code, detail)
    return None


def database_unavailable_response(request: HttpRequest) -> HttpResponse:
    """503 + Retry-After in the path's API shape (plain text for pages)."""
    detail = "The database is unavailable; try again shortly."
    response = error_response(request, 503, detail) or HttpResponse(
        detail, status=503, content_type="text/plain; charset=utf-8"
    )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseUnavailableMiddleware:
    """A view that cannot reach the database answers 503, not 500.

    The request may well succeed in a few seconds (a restart, a failover), so
    the client is told to retry instead of being told the server is broken.
    Errors raised by middleware before the view are handled in `api_server_error`.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponse | None:
        if not isinstance(exception, DATABASE_UNAVAILABLE):
            return None
        logger.warning(
            "database unavailable for %s %s: %s",
            request.method,
            request.path,
            exception,
        )
        return database_unavailable_response(request)


class RefuseNulMiddleware:
    """A NUL character in the path is a 404, in the query string a 400.

    PostgreSQL cannot store or even compare text holding NUL, so such a value
    would reach the database as an error (a 500) from whichever lookup used it
    first. No name can hold one (text inputs refuse it, core.text), so a path
    with one names nothing; a query parameter with one is simply invalid.
    Bodies are judged by the serializers and services that read them.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if NUL in request.path_info:
            raise Http404("No such resource.")
        for key, values in request.GET.lists():
            if NUL in key or any(NUL in value for value in values):
                detail = f"The query parameter {key!r} contains a NUL character."
                return error_response(request, 400, detail) or HttpResponse(
                    detail, status=400, content_type="text/plain; charset=utf-8"
                )
        return self.get_response(request)


def api_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler404: no URL matched; the API's shape under an API path, else the page."""
    return error_response(request, 404, "No such resource.") or (
        defaults.page_not_found(request, exception)
    )


def api_server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a bug is still answered in the path's API error shape."""
    # Django calls the handler inside its `except`, so the exception is at hand:
    # a database fault raised by a middleware (a session read) is a 503 too.
    if isinstance(sys.exc_info()[1], DATABASE_UNAVAILABLE):
        return database_unavailable_response(request)
    return error_response(request, 500, "Something went wrong on our side.") or (
        defaults.server_error(request)
    )


class BodyLimitMiddleware:
    """413 for a body over DATA_UPLOAD_MAX_MEMORY_SIZE, before anything reads it.

    Django enforces the limit only where it reads the body itself (forms);
    DRF's JSON parser reads the stream directly, so without this a client could
    send any amount of JSON. Judged by Content-Length: a chunked body without
    one is bounded by the web server in front.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if limit is not None and length > limit and not _is_admin(request):
            return problem_response(
                request, 413, f"The request body is larger than {limit} bytes."
            )
        return self.get_response(request)


def _is_admin(request: HttpRequest) -> bool:
    # The admin keeps Django's own handling of its forms.
    return request.path_info.startswith("/admin/")
