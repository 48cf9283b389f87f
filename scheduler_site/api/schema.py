"""Shared OpenAPI pieces: the problem-details body every error response uses."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import serializers

from scheduler_site.api.errors import problem


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    instance = serializers.CharField(allow_null=True)
    # A body field, not Serializer.errors: DRF moves declared fields off the class.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Field name to messages (400, and 409 from a field).",
    )


def _problem(
    code: int, description: str, detail: str | None = None, **extra: Any
) -> OpenApiResponse:
    example = {**problem(code, detail, None), "instance": "/api/v1/...", **extra}
    return OpenApiResponse(
        response=ProblemSerializer,
        description=description,
        examples=[OpenApiExample(f"{code}", value=example, status_codes=[str(code)])],
    )


# Keys carry the media type: errors are served as application/problem+json.
PROBLEM = "application/problem+json"
Responses = dict[int | tuple[int, str], Any]
PROBLEM_RESPONSES: Responses = {
    (400, PROBLEM): _problem(
        400,
        "Invalid input; `errors` names each bad field.",
        "One or more fields are invalid.",
        errors={"cron_expression": ["this expression never fires (30 February)"]},
    ),
    (401, PROBLEM): _problem(
        401, "Not signed in.", "Authentication credentials were not provided."
    ),
    (403, PROBLEM): _problem(403, "Signed in without the permission this needs."),
    (404, PROBLEM): _problem(404, "No such resource."),
}
CONFLICT_RESPONSE = _problem(
    409,
    "The current state refuses it (a taken name, a run already in progress).",
    "schedule 'nightly-report' already has a run in progress and its overlap "
    "policy is 'skip'; wait for it to finish or cancel it",
)
PRECONDITION_RESPONSE = _problem(
    412,
    "If-Match named an ETag the resource no longer has.",
    "The resource changed since you read it (stale If-Match).",
)
THROTTLED_RESPONSE = _problem(
    429,
    "Too many attempts; `Retry-After` says when to try again.",
    "Request was throttled. Expected available in 42 seconds.",
)
