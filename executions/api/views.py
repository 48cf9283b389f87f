"""Native API: components catalogue, credentials, and asynchronous executions.

An execution answers 202 + Location of its poll resource; poll answers 200
while it runs and 303 to the result when it ended; the result answers 409
until then. Expired executions are gone (404), as if pruned already.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.errors import Conflict
from core.api.schema import (
    PROBLEM,
    PROBLEM_RESPONSES,
    ProblemSerializer,
    location_header,
)
from executions.api.serializers import (
    ComponentSerializer,
    CredentialSerializer,
    ExecutionCreateSerializer,
    ExecutionResultSerializer,
    ExecutionSerializer,
    ExecutionStatusSerializer,
)
from executions.components import ComponentNotFound, all_components, get_component
from executions.models import Credential, Execution
from executions.selectors import credential_list, execution_get, execution_list
from executions.services import (
    credential_create,
    credential_delete,
    credential_update,
    execution_create,
)

NOT_FOUND = OpenApiResponse(
    ProblemSerializer, description="Unknown or expired execution."
)
ACCEPTED = OpenApiResponse(
    ExecutionSerializer,
    description="Accepted; the `Location` header is the poll URL.",
)
POLL_LOCATION = location_header(202, "Where to poll the execution.")


def accepted(request: Request, execution: Execution) -> Response:
    poll = reverse("executions-api:execution-poll", args=[execution.pk])
    return Response(
        ExecutionSerializer(execution).data,
        status=status.HTTP_202_ACCEPTED,
        headers={"Location": request.build_absolute_uri(poll)},
    )


@extend_schema_view(
    list=extend_schema(
        summary="List executions (newest first)",
        responses={200: ExecutionSerializer(many=True), **PROBLEM_RESPONSES},
    ),
    retrieve=extend_schema(
        summary="Get an execution",
        responses={
            200: ExecutionSerializer,
            **PROBLEM_RESPONSES,
            (404, PROBLEM): NOT_FOUND,
        },
    ),
)
class ExecutionViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = ExecutionSerializer
    action_permissions = {
        "list": "executions.view_execution",
        "retrieve": "executions.view_execution",
        "poll": "executions.view_execution",
        "result": "executions.view_execution",
        "create": "executions.add_execution",
    }
    lookup_value_regex = "[0-9a-fA-F-]{32,36}"
    filterset_fields = ["status", "component", "method"]

    def get_queryset(self) -> QuerySet[Execution]:
        return execution_list(user=self.request.user).filter(
            expires_at__gt=timezone.now()
        )

    def get_object(self) -> Execution:
        execution = execution_get(
            execution_id=self.kwargs["pk"], user=self.request.user
        )
        if execution is None or execution.is_expired(timezone.now()):
            raise Http404
        return execution

    @extend_schema(
        summary="Run a component method asynchronously",
        parameters=[POLL_LOCATION],
        request=ExecutionCreateSerializer,
        responses={202: ACCEPTED, **PROBLEM_RESPONSES},
    )
    def create(self, request: Request) -> Response:
        serializer = ExecutionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        execution = execution_create(
            **serializer.validated_data,
            requested_by=request.user,
            via=Execution.Via.API,
            now=timezone.now(),
        )
        return accepted(request, execution)

    @extend_schema(
        summary="Poll an execution",
        description="200 while pending or running; 303 to the result once ended.",
        parameters=[location_header(303, "The result's URL.")],
        responses={
            200: ExecutionStatusSerializer,
            303: OpenApiResponse(description="Ended; `Location` is the result URL."),
            **PROBLEM_RESPONSES,
            (404, PROBLEM): NOT_FOUND,
        },
    )
    @action(detail=True, methods=["get"])
    def poll(self, request: Request, pk: str) -> Any:
        execution = self.get_object()
        if execution.is_finished:
            url = reverse("executions-api:execution-result", args=[execution.pk])
            return HttpResponseRedirect(request.build_absolute_uri(url), status=303)
        return Response(ExecutionStatusSerializer(execution).data)

    @extend_schema(
        summary="Read an execution's result",
        description="The method's output (or the error) once ended; 409 before.",
        responses={
            200: ExecutionResultSerializer,
            **PROBLEM_RESPONSES,
            (404, PROBLEM): NOT_FOUND,
            (409, PROBLEM): OpenApiResponse(
                ProblemSerializer, description="Not finished yet."
            ),
        },
    )
    @action(detail=True, methods=["get"])
    def result(self, request: Request, pk: str) -> Response:
        execution = self.get_object()
        if not execution.is_finished:
            raise Conflict(f"The execution is {execution.status}; poll until it ends.")
        return Response(ExecutionResultSerializer(execution).data)


class ComponentViewSet(viewsets.ViewSet):
    serializer_class = ComponentSerializer
    lookup_field = "name"
    action_permissions = {
        "list": "executions.view_execution",
        "retrieve": "executions.view_execution",
    }

    @extend_schema(
        summary="List components",
        responses={200: ComponentSerializer(many=True), **PROBLEM_RESPONSES},
    )
    def list(self, request: Request) -> Response:
        return Response([c.as_dict() for c in all_components()])

    @extend_schema(
        summary="Get a component",
        parameters=[OpenApiParameter("name", str, OpenApiParameter.PATH)],
        responses={200: ComponentSerializer, **PROBLEM_RESPONSES},
    )
    def retrieve(self, request: Request, name: str) -> Response:
        try:
            return Response(get_component(name).as_dict())
        except ComponentNotFound:
            raise Http404 from None


_CREDENTIAL_RESPONSES = {200: CredentialSerializer, **PROBLEM_RESPONSES}


@extend_schema_view(
    list=extend_schema(
        summary="List credentials (secret fields masked)",
        responses={200: CredentialSerializer(many=True), **PROBLEM_RESPONSES},
    ),
    retrieve=extend_schema(
        summary="Get a credential (secret fields masked)",
        responses=_CREDENTIAL_RESPONSES,
    ),
    create=extend_schema(
        summary="Create a credential",
        responses={201: CredentialSerializer, **PROBLEM_RESPONSES},
    ),
    update=extend_schema(
        summary="Replace a credential's name and fields",
        responses=_CREDENTIAL_RESPONSES,
    ),
    partial_update=extend_schema(
        summary="Change a credential; fields left out keep their values",
        responses=_CREDENTIAL_RESPONSES,
    ),
    destroy=extend_schema(
        summary="Delete a credential", responses={204: None, **PROBLEM_RESPONSES}
    ),
)
class CredentialViewSet(viewsets.ModelViewSet):
    serializer_class = CredentialSerializer
    lookup_field = "name"
    lookup_value_regex = "[^/]+"
    action_permissions = {
        "list": "executions.view_credential",
        "retrieve": "executions.view_credential",
        "create": "executions.add_credential",
        "update": "executions.change_credential",
        "partial_update": "executions.change_credential",
        "destroy": "executions.delete_credential",
        # Verifying records the outcome on the credential.
        "verify": "executions.verify_credential",
    }
    filterset_fields = ["component"]

    def get_queryset(self) -> QuerySet[Credential]:
        return credential_list()

    def perform_create(self, serializer: Any) -> None:
        data = serializer.validated_data
        serializer.instance = credential_create(
            name=data["name"],
            component=data["component"],
            fields=data["fields"],
            by=self.request.user,
        )

    def perform_update(self, serializer: Any) -> None:
        data = serializer.validated_data
        serializer.instance = credential_update(
            credential=serializer.instance,
            name=data.get("name"),
            fields=data.get("fields"),
            by=self.request.user,
        )

    def perform_destroy(self, instance: Credential) -> None:
        credential_delete(credential=instance, by=self.request.user)

    @extend_schema(
        summary="Verify a credential asynchronously",
        parameters=[POLL_LOCATION],
        request=None,
        responses={202: ACCEPTED, **PROBLEM_RESPONSES},
    )
    @action(detail=True, methods=["post"])
    def verify(self, request: Request, name: str) -> Response:
        credential = self.get_object()
        execution = execution_create(
            component=credential.component,
            method=Execution.Method.VERIFY_CREDENTIALS,
            credential=credential.pk,
            requested_by=request.user,
            via=Execution.Via.API,
            now=timezone.now(),
        )
        return accepted(request, execution)
