"""Shared OpenAPI pieces: the problem-details body every error response uses."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema_serializer,
)
from rest_framework import serializers

from core.api.errors import problem

# Keys carry the media type: errors are served as application/problem+json.
PROBLEM = "application/problem+json"


def problem_example(
    code: int, detail: str | None = None, instance: str = "/api/v1/...", **extra: Any
) -> dict[str, Any]:
    """A problem body as `core.api.errors.problem` writes it."""
    return {**problem(code, detail, None), "instance": instance, **extra}


def _example(code: int, detail: str, **extra: Any) -> OpenApiExample:
    return OpenApiExample(
        f"{code}",
        value=problem_example(code, detail, **extra),
        status_codes=[str(code)],
        media_type=PROBLEM,
        response_only=True,
    )


# One example per status: our AutoSchema shows the one for each error response.
PROBLEM_EXAMPLES = [
    _example(
        400,
        "One or more fields are invalid.",
        instance="/api/v1/schedules/",
        errors={"cron_expression": ["this expression never fires (30 February)"]},
    ),
    _example(401, "Authentication credentials were not provided."),
    _example(403, "You do not have permission to perform this action."),
    _example(404, "No such resource.", instance="/api/v1/schedules/no-such-job/"),
    _example(
        409,
        "a schedule named 'nightly-report' already exists; choose another name "
        "or edit that schedule",
        instance="/api/v1/schedules/",
        errors={
            "name": [
                "a schedule named 'nightly-report' already exists; choose another "
                "name or edit that schedule"
            ]
        },
    ),
    _example(412, "The resource changed since you read it (stale If-Match)."),
    _example(413, "The request body is larger than 1048576 bytes."),
    _example(415, 'Unsupported media type "text/plain" in request.'),
    _example(429, "Request was throttled. Expected available in 42 seconds."),
]


@extend_schema_serializer(examples=PROBLEM_EXAMPLES)
class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    instance = serializers.CharField(allow_null=True)
    errors = serializers.DictField(  # type: ignore[assignment]  # wire name; DRF lifts fields off the class
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Field name to messages (400, and 409 from a field).",
    )


def _problem(
    code: int, description: str, detail: str | None = None, **extra: Any
) -> OpenApiResponse:
    """A documented problem response; with `detail`, its own example."""
    examples = []
    if detail is not None:
        value = problem_example(code, detail, **extra)
        examples = [OpenApiExample(f"{code}", value=value, status_codes=[str(code)])]
    return OpenApiResponse(
        response=ProblemSerializer, description=description, examples=examples
    )


Responses = dict[int | tuple[int, str], Any]
PROBLEM_RESPONSES: Responses = {
    (400, PROBLEM): _problem(400, "Invalid input; `errors` names each bad field."),
    (401, PROBLEM): _problem(401, "Not signed in."),
    (403, PROBLEM): _problem(403, "Signed in without the permission this needs."),
    (404, PROBLEM): _problem(404, "No such resource."),
}
CONFLICT_RESPONSE = _problem(
    409,
    "The current state refuses it (a taken name, a run already in progress).",
    "schedule 'nightly-report' already has a run in progress and its overlap "
    "policy is 'skip'; wait for it to finish or cancel it",
    instance="/api/v1/schedules/nightly-report/run-now/",
    errors={
        "non_field_errors": [
            "schedule 'nightly-report' already has a run in progress and its "
            "overlap policy is 'skip'; wait for it to finish or cancel it"
        ]
    },
)
PRECONDITION_RESPONSE = _problem(
    412, "If-Match named an ETag the resource no longer has."
)
THROTTLED_RESPONSE = _problem(
    429, "Too many attempts; `Retry-After` says when to try again."
)


def location_header(code: int, description: str) -> OpenApiParameter:
    """The `Location` response header of `code` (201, 202 or 303)."""
    return OpenApiParameter(
        "Location",
        OpenApiTypes.URI,
        OpenApiParameter.HEADER,
        required=True,
        response=[code],
        description=description,
    )


ETAG_HEADER = OpenApiParameter(
    "ETag",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    response=[200, 201],
    description="Send it back as If-Match to write only if nobody else has since.",
)
