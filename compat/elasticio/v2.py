"""elastic.io platform API v2 executions (JSON:API bodies).

POST /v2/components/{component}/versions/{rev}/{verify-credential,
dynamic-metadata,select-model} → 202 + Location of /v2/exec/poll/{id};
poll → 200 while running, 303 to /v2/exec/result/{id} when ended; result →
200 when ended, 409 before. `rev` is `latest` or the component's version.
"""

from __future__ import annotations

from typing import Any, ClassVar

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
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from compat.elasticio.base import CompatView, flat_errors, request_examples
from core.api.schema import location_header
from executions.api.serializers import VERIFY_REFUSED
from executions.components import ComponentNotFound, get_component
from executions.models import Execution
from executions.selectors import execution_get
from executions.services import execution_create

TITLES = {
    400: "Bad argument error",
    401: "Error",
    403: "Unauthorized",
    404: "Resource not found",
    409: "Conflict",
    500: "Internal server error",
    503: "Service unavailable",
}
STATUS_TEXT = {
    Execution.Status.PENDING: "Pending request, waiting other process",
    Execution.Status.RUNNING: "Running",
    Execution.Status.SUCCEEDED: "Success",
    Execution.Status.FAILED: "Error",
    Execution.Status.TIMED_OUT: "Error",
}


# --- Request bodies ---------------------------------------------------------------
def _ref(type_name: str, class_name: str) -> type[serializers.Serializer]:
    """`{"data": {"id": ..., "type": "<type_name>"}}` as its own named schema."""
    data = type(
        f"{class_name}Data",
        (serializers.Serializer,),
        {"id": serializers.CharField(), "type": serializers.ChoiceField([type_name])},
    )
    return type(class_name, (serializers.Serializer,), {"data": data()})


WorkspaceRelation = _ref("workspace", "V2WorkspaceRelation")
VpnAgentRelation = _ref("vpn-agent", "V2VpnAgentRelation")
AgentRelation = _ref("agent", "V2AgentRelation")
CredentialRelation = _ref("credential", "V2CredentialRelation")


class V2VerifyRelationships(serializers.Serializer):
    workspace = WorkspaceRelation()
    # The markdown docs say vpn_agent/vpn-agent, the OpenAPI file agent/agent.
    vpn_agent = VpnAgentRelation(required=False)
    agent = AgentRelation(required=False)


class V2ModelRelationships(V2VerifyRelationships):
    credential = CredentialRelation(required=False)


class V2VerifyAttributes(serializers.Serializer):
    fields = serializers.DictField()  # type: ignore[assignment]  # wire name; DRF lifts fields off the class


class V2MetadataAttributes(serializers.Serializer):
    module = serializers.CharField()
    fields = serializers.DictField()  # type: ignore[assignment]  # wire name; DRF lifts fields off the class


class V2SelectAttributes(V2MetadataAttributes):
    method = serializers.CharField()


class V2VerifyCredentialData(serializers.Serializer):
    type = serializers.ChoiceField(["verify-credential"])
    attributes = V2VerifyAttributes()
    relationships = V2VerifyRelationships()


class V2DynamicMetadataData(serializers.Serializer):
    type = serializers.ChoiceField(["dynamic-metadata"])
    attributes = V2MetadataAttributes()
    relationships = V2ModelRelationships()


class V2SelectModelData(serializers.Serializer):
    type = serializers.ChoiceField(["select-model"])
    attributes = V2SelectAttributes()
    relationships = V2ModelRelationships()


_WORKSPACE = {
    "workspace": {"data": {"id": "59d341e9037f7200192c8a2e", "type": "workspace"}}
}
_WITH_CREDENTIAL = {
    **_WORKSPACE,
    "credential": {"data": {"id": "3", "type": "credential"}},
}


def _body(
    kind: str, attributes: dict[str, Any], relationships: Any
) -> list[OpenApiExample]:
    value = {"type": kind, "attributes": attributes, "relationships": relationships}
    return request_examples(kind, {"data": value})


@extend_schema_serializer(
    examples=_body(
        "verify-credential",
        {
            "fields": {
                "url": "https://shop.example.com",
                "consumer_key": "ck_4f1c2a9e8b7d6c5a4f1c2a9e8b7d6c5a1234",
                "consumer_secret": "cs_9e8b7d6c5a4f1c2a9e8b7d6c5a4f1c2a7890",
            }
        },
        _WORKSPACE,
    )
)
class VerifyCredentialBody(serializers.Serializer):
    data = V2VerifyCredentialData()  # type: ignore[assignment]  # wire name; DRF lifts fields off the class


@extend_schema_serializer(
    examples=_body(
        "dynamic-metadata",
        {"module": "list_products", "fields": {"category": "17"}},
        _WITH_CREDENTIAL,
    )
)
class DynamicMetadataBody(serializers.Serializer):
    data = V2DynamicMetadataData()  # type: ignore[assignment]  # wire name; DRF lifts fields off the class


@extend_schema_serializer(
    examples=_body(
        "select-model",
        {"module": "list_products", "method": "categories", "fields": {}},
        _WITH_CREDENTIAL,
    )
)
class SelectModelBody(serializers.Serializer):
    data = V2SelectModelData()  # type: ignore[assignment]  # wire name; DRF lifts fields off the class


# --- Response documents ---------------------------------------------------------------
ResultDocument = inline_serializer(
    "V2ExecutionResult",
    {
        "data": inline_serializer(
            "V2ExecutionResultData",
            {
                "id": serializers.CharField(),
                "type": serializers.CharField(default="execution-result"),
                "links": serializers.DictField(child=serializers.CharField()),
                "attributes": serializers.DictField(),
            },
        ),
        "meta": serializers.DictField(),
    },
)
ErrorDocument = inline_serializer(
    "V2Errors", {"errors": serializers.ListField(child=serializers.DictField())}
)


def errors_body(status: int, detail: Any) -> dict[str, Any]:
    title = TITLES.get(status, "Error")
    if isinstance(detail, dict | list):
        return {
            "errors": [
                {
                    "status": status,
                    "code": status,
                    "title": title,
                    "detail": message,
                    "meta": {},
                    "source": {"pointer": pointer},
                }
                for pointer, message in flat_errors(detail)
            ]
        }
    return {
        "errors": [
            {"status": status, "code": status, "title": title, "detail": str(detail),
             "meta": {}}
        ]
    }  # fmt: skip


def fault_response(request: HttpRequest, code: int, detail: str) -> JsonResponse:
    """A fault outside the views' handler (database down, a bug) in v2's shape."""
    return JsonResponse(errors_body(code, detail), status=code)


# --- Response examples ----------------------------------------------------------------
_EXECUTION_ID = "5f0c6f7e-3b1a-4c1e-9d2a-7e8f90a1b2c3"


def _result_response(
    description: str, name: str, status: str, result: Any
) -> OpenApiResponse:
    data = {
        "id": _EXECUTION_ID,
        "type": "execution-result",
        "links": {"self": f"/v2/exec/result/{_EXECUTION_ID}"},
        "attributes": {"result": result, "status": status},
    }
    example = OpenApiExample(name, value={"data": data, "meta": {}})
    return OpenApiResponse(ResultDocument, description=description, examples=[example])


def _errors_response(description: str, status: int, detail: Any) -> OpenApiResponse:
    example = OpenApiExample(f"{status}", value=errors_body(status, detail))
    return OpenApiResponse(ErrorDocument, description=description, examples=[example])


NOT_FOUND = _errors_response(
    "Unknown or expired; `source.parameter.id` names it.",
    404,
    "The resource is not found.",
)


def _document(execution: Execution, *, result: Any) -> dict[str, Any]:
    return {
        "data": {
            "id": str(execution.pk),
            "type": "execution-result",
            "links": {"self": reverse("elasticio-v2-result", args=[execution.pk])},
            "attributes": {
                "result": result,
                "status": STATUS_TEXT[Execution.Status(execution.status)],
            },
        },
        "meta": {},
    }


def _outcome(execution: Execution) -> dict[str, Any]:
    if execution.status == Execution.Status.SUCCEEDED:
        return {"data": execution.result}
    return {"error": {"message": execution.error}}


class Missing(exceptions.NotFound):
    """A 404 naming the missing resource, as `source.parameter.id` (elastic.io)."""

    def __init__(self, resource_id: str) -> None:
        super().__init__("The resource is not found.")
        self.resource_id = resource_id


class TypeNotTaken(exceptions.APIException):
    """JSON:API: a resource type the endpoint does not take is a 409 Conflict."""

    status_code = 409
    default_code = "conflict"


class V2View(CompatView):
    def error_body(self, status: int, detail: Any) -> dict[str, Any]:
        return errors_body(status, detail)

    def _handle(self, exc: Exception, context: dict[str, Any]) -> Response | None:
        response = super()._handle(exc, context)
        if response is not None and isinstance(exc, Missing):
            for error in response.data["errors"]:
                error["source"] = {"parameter": {"id": exc.resource_id}}
        return response

    def visible_execution(self, request: Request, execution_id: str) -> Execution:
        execution = execution_get(execution_id=execution_id, user=request.user)
        if execution is None or execution.is_expired(timezone.now()):
            raise Missing(execution_id)
        return execution


class ScheduleView(V2View):
    body: ClassVar[type[serializers.Serializer]]
    data_type: ClassVar[str]
    method: ClassVar[str]

    def post(self, request: Request, component: str, rev: str) -> Response:
        try:
            spec = get_component(component)
        except ComponentNotFound:
            raise Missing(component) from None
        if rev not in {"latest", spec.version}:
            raise Missing(rev)
        _refuse_other_type(request.data, self.data_type)
        serializer = self.body(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data["data"]
        attributes, relations = data["attributes"], data["relationships"]
        execution = execution_create(
            component=component,
            method=self.method,
            cfg=attributes["fields"],
            credential=(relations.get("credential") or {}).get("data", {}).get("id"),
            module=attributes.get("module", ""),
            model_method=attributes.get("method", ""),
            requested_by=request.user,
            via=Execution.Via.V2,
            now=timezone.now(),
        )
        poll = reverse("elasticio-v2-poll", args=[execution.pk])
        return Response(
            _document(execution, result={}),
            status=202,
            headers={"Location": request.build_absolute_uri(poll)},
        )


def _refuse_other_type(body: Any, wanted: str) -> None:
    """409 when `data.type` is a type, just not this endpoint's (JSON:API)."""
    data = body.get("data") if isinstance(body, dict) else None
    sent = data.get("type") if isinstance(data, dict) else None
    if isinstance(sent, str) and sent and sent != wanted:
        raise TypeNotTaken(
            {"data": {"type": [f"this endpoint takes {wanted!r}, not {sent!r}"]}}
        )


def _schedule_schema(summary: str, body: Any) -> Any:
    return extend_schema(
        summary=summary,
        parameters=[location_header(202, "Where to poll the execution.")],
        request=body,
        responses={
            202: _result_response(
                "Location: poll URL.",
                "Pending",
                STATUS_TEXT[Execution.Status.PENDING],
                {},
            ),
            400: _errors_response(
                "Invalid body; each error points at its field.",
                400,
                {"data": {"relationships": ["This field is required."]}},
            ),
            401: _errors_response(
                "Not signed in.", 401, "No authorization header was provided."
            ),
            404: NOT_FOUND,
            409: _errors_response(
                "`data.type` names a type this endpoint does not take.",
                409,
                {"data": {"type": ["this endpoint takes 'select-model', not 'x'"]}},
            ),
        },
        tags=["elastic.io v2"],
    )


class VerifyCredentialView(ScheduleView):
    data_type = "verify-credential"
    body = VerifyCredentialBody
    method = Execution.Method.VERIFY_CREDENTIALS

    @_schedule_schema("Verify credentials (elastic.io v2)", VerifyCredentialBody)
    def post(self, request: Request, component: str, rev: str) -> Response:
        return super().post(request, component, rev)


class DynamicMetadataView(ScheduleView):
    data_type = "dynamic-metadata"
    body = DynamicMetadataBody
    method = Execution.Method.GET_META_MODEL

    @_schedule_schema("Get dynamic metadata (elastic.io v2)", DynamicMetadataBody)
    def post(self, request: Request, component: str, rev: str) -> Response:
        return super().post(request, component, rev)


class SelectModelView(ScheduleView):
    data_type = "select-model"
    body = SelectModelBody
    method = Execution.Method.SELECT_MODEL

    @_schedule_schema("Run a select-model method (elastic.io v2)", SelectModelBody)
    def post(self, request: Request, component: str, rev: str) -> Response:
        return super().post(request, component, rev)


class PollView(V2View):
    @extend_schema(
        summary="Poll an execution (elastic.io v2)",
        parameters=[location_header(303, "The result's URL.")],
        responses={
            200: _result_response(
                "Still pending or running.",
                "Running",
                STATUS_TEXT[Execution.Status.RUNNING],
                {},
            ),
            303: OpenApiResponse(description="Ended; Location: result URL."),
            404: NOT_FOUND,
        },
        tags=["elastic.io v2"],
    )
    def get(self, request: Request, execution_id: str) -> Response:
        execution = self.visible_execution(request, execution_id)
        if not execution.is_finished:
            return Response(_document(execution, result={}))
        result = reverse("elasticio-v2-result", args=[execution.pk])
        return Response(
            {"data": {}, "meta": {}},
            status=303,
            headers={"Location": request.build_absolute_uri(result)},
        )


class ResultView(V2View):
    @extend_schema(
        summary="Read an execution's result (elastic.io v2)",
        responses={
            200: _result_response(
                "Ended: `result` is `{data}` on success, `{error}` otherwise.",
                "Credentials refused",
                STATUS_TEXT[Execution.Status.SUCCEEDED],
                {"data": VERIFY_REFUSED},
            ),
            404: NOT_FOUND,
            409: _errors_response(
                "Not finished yet.", 409, "The execution has not finished yet."
            ),
        },
        tags=["elastic.io v2"],
    )
    def get(self, request: Request, execution_id: str) -> Response:
        execution = self.visible_execution(request, execution_id)
        if not execution.is_finished:
            return Response(
                errors_body(409, "The execution has not finished yet."), status=409
            )
        return Response(_document(execution, result=_outcome(execution)))
