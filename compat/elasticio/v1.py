"""elastic.io API v1 executions: POST /v1/exec/schedule, poll, result.

Flat JSON bodies and `{"message": ...}` answers, as the npm client
`elasticio-rest-node` expects: schedule must answer exactly 202 with a
Location header; poll's 303 is followed to the result.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from compat.elasticio.base import CompatView, flat_errors, request_examples
from core.api.schema import location_header
from executions.api.serializers import VERIFY_REFUSED
from executions.models import Execution
from executions.selectors import execution_get
from executions.services import execution_create, execution_take_result

EXECUTION_TYPES = {
    "verify_credentials": Execution.Method.VERIFY_CREDENTIALS,
    "get_meta_model": Execution.Method.GET_META_MODEL,
    "select_model": Execution.Method.SELECT_MODEL,
}
MESSAGES = {
    401: "No authorization header was provided.",
    403: "Forbidden.",
    404: "Result does not exist.",
    405: "Method not allowed.",
    500: "Internal Server Error",
}


_SHOP = {
    "url": "https://shop.example.com",
    "consumer_key": "ck_4f1c2a9e8b7d6c5a4f1c2a9e8b7d6c5a1234",
    "consumer_secret": "cs_9e8b7d6c5a4f1c2a9e8b7d6c5a4f1c2a7890",
}


@extend_schema_serializer(
    examples=[
        *request_examples(
            "Verify credentials",
            {
                "execution_type": "verify_credentials",
                "component": "woocommerce",
                "account_data": _SHOP,
            },
        ),
        *request_examples(
            "Select model",
            {
                "execution_type": "select_model",
                "component": "woocommerce",
                "action_or_trigger": "list_products",
                "account_id": "3",
                "model_method": "categories",
            },
        ),
    ]
)
class V1ScheduleRequest(serializers.Serializer):
    execution_type = serializers.ChoiceField(list(EXECUTION_TYPES))
    component = serializers.CharField()
    account_data = serializers.DictField(required=False)
    action_or_trigger = serializers.CharField(required=False)
    account_id = serializers.CharField(required=False)
    model_method = serializers.CharField(required=False)
    cfg = serializers.DictField(required=False, default=dict)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        kind = attrs["execution_type"]
        needed = (
            ["account_data"]
            if kind == "verify_credentials"
            else ["action_or_trigger", "account_id"]
            + (["model_method"] if kind == "select_model" else [])
        )
        missing = {
            name: f"Required when execution_type is {kind}."
            for name in needed
            if name not in attrs
        }
        if missing:
            raise serializers.ValidationError(missing)
        return attrs


Message = inline_serializer("V1Message", {"message": serializers.CharField()})
Rejected = inline_serializer(
    "V1Rejected",
    {"message": serializers.CharField(), "reason": serializers.DictField()},
)
V1Result = inline_serializer("V1Result", {"data": serializers.JSONField()})
V1Invalid = inline_serializer(
    "V1Invalid",
    {
        "message": serializers.CharField(),
        # Absent when the body could not be parsed at all.
        "errors": serializers.DictField(child=serializers.CharField(), required=False),
    },
)


def _answer(
    serializer: Any, description: str, name: str, value: dict[str, Any]
) -> OpenApiResponse:
    """A documented answer with its one example."""
    return OpenApiResponse(
        serializer,
        description=description,
        examples=[OpenApiExample(name, value=value)],
    )


NOT_FOUND = _answer(
    Message, "Unknown or expired.", "Unknown", {"message": MESSAGES[404]}
)
NOT_READY = {"message": "Result not ready yet."}


class V1View(CompatView):
    def error_body(self, status: int, detail: Any) -> dict[str, Any]:
        if isinstance(detail, dict | list):
            errors = {
                pointer.strip("/") or "body": m for pointer, m in flat_errors(detail)
            }
            return {"message": "Invalid request.", "errors": errors}
        if status in {401, 403}:
            return {"message": str(detail)}
        return {"message": MESSAGES.get(status, str(detail))}

    def lookup(self, request: Request, execution_id: str) -> Execution | Response:
        execution = execution_get(execution_id=execution_id, user=request.user)
        if execution is None or execution.result_read_at is not None:
            # A result already handed out no longer exists for v1 clients.
            return Response({"message": "Result does not exist."}, status=404)
        if execution.is_expired(timezone.now()):
            return Response({"message": "Expired."}, status=404)
        return execution


def fault_response(request: HttpRequest, code: int, detail: str) -> JsonResponse:
    """A fault outside the views' handler (database down, a bug) in v1's shape."""
    return JsonResponse({"message": MESSAGES.get(code, detail)}, status=code)


class ScheduleView(V1View):
    @extend_schema(
        summary="Schedule an execution (elastic.io v1)",
        parameters=[location_header(202, "Where to poll the execution.")],
        request=V1ScheduleRequest,
        responses={
            202: _answer(Message, "Location: poll URL.", "Accepted", {"message": "ok"}),
            400: _answer(
                V1Invalid,
                "Invalid request; `errors` names each bad field.",
                "A missing field",
                {
                    "message": "Invalid request.",
                    "errors": {
                        "account_id": "Required when execution_type is select_model."
                    },
                },
            ),
            401: _answer(
                Message,
                "Not signed in.",
                "No credentials",
                {"message": MESSAGES[401]},
            ),
        },
        tags=["elastic.io v1"],
    )
    def post(self, request: Request) -> Response:
        serializer = V1ScheduleRequest(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        kind = data["execution_type"]
        cfg = dict(data["cfg"])
        if kind == "verify_credentials":
            cfg.update(data["account_data"])
        execution = execution_create(
            component=data["component"],
            method=EXECUTION_TYPES[kind],
            cfg=cfg,
            credential=data.get("account_id"),
            module=data.get("action_or_trigger", ""),
            model_method=data.get("model_method", ""),
            requested_by=request.user,
            via=Execution.Via.V1,
            now=timezone.now(),
        )
        poll = reverse("elasticio-v1-poll", args=[execution.pk])
        return Response(
            {"message": "ok"},
            status=202,
            headers={"Location": request.build_absolute_uri(poll)},
        )


class PollView(V1View):
    @extend_schema(
        summary="Poll an execution (elastic.io v1)",
        parameters=[location_header(303, "The result's URL.")],
        responses={
            200: _answer(Message, "Still running.", "Running", NOT_READY),
            303: _answer(
                Message, "Ready; Location: result.", "Ready", {"message": "Ready."}
            ),
            404: NOT_FOUND,
        },
        tags=["elastic.io v1"],
    )
    def get(self, request: Request, execution_id: str) -> Response:
        found = self.lookup(request, execution_id)
        if isinstance(found, Response):
            return found
        if not found.is_finished:
            return Response({"message": "Result not ready yet."})
        result = reverse("elasticio-v1-result", args=[found.pk])
        return Response(
            {"message": "Ready."},
            status=303,
            headers={"Location": request.build_absolute_uri(result)},
        )


class ResultView(V1View):
    # The v1 docs: a result "may be retrieved only once". The first read takes
    # it (execution_take_result); the next answers 404 "Result does not exist."
    # The native API still shows the execution.
    @extend_schema(
        summary="Read an execution's result (elastic.io v1)",
        responses={
            200: _answer(
                V1Result,
                "What the component method returned.",
                "Credentials refused",
                {"data": VERIFY_REFUSED},
            ),
            400: _answer(
                Rejected,
                "The execution failed or timed out.",
                "Timed out",
                {
                    "message": "Rejected.",
                    "reason": {"message": "time limit of 30 s exceeded"},
                },
            ),
            404: NOT_FOUND,
            409: _answer(Message, "Not finished yet.", "Running", NOT_READY),
        },
        tags=["elastic.io v1"],
    )
    def get(self, request: Request, execution_id: str) -> Response:
        found = self.lookup(request, execution_id)
        if isinstance(found, Response):
            return found
        if not found.is_finished:
            return Response({"message": "Result not ready yet."}, status=409)
        if not execution_take_result(execution_id=found.pk, now=timezone.now()):
            return Response({"message": "Result does not exist."}, status=404)
        if found.status != Execution.Status.SUCCEEDED:
            return Response(
                {"message": "Rejected.", "reason": {"message": found.error}},
                status=400,
            )
        return Response({"data": found.result})
