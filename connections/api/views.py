"""Native API for outgoing connections: thin over connections.services."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from connections.api.serializers import ConnectionSerializer, ConnectionTestSerializer
from connections.models import OutgoingConnection
from connections.services import (
    connection_create,
    connection_delete,
    connection_test,
    connection_update,
)
from core.api.schema import PROBLEM_RESPONSES

_ONE = {200: ConnectionSerializer, **PROBLEM_RESPONSES}
_NAME = OpenApiParameter("name", str, OpenApiParameter.PATH, description="Its name.")


@extend_schema_view(
    list=extend_schema(
        summary="List outgoing connections (secrets masked)",
        responses={200: ConnectionSerializer(many=True), **PROBLEM_RESPONSES},
    ),
    retrieve=extend_schema(
        summary="Read a connection (secrets masked)", parameters=[_NAME], responses=_ONE
    ),
    create=extend_schema(
        summary="Create a connection",
        responses={201: ConnectionSerializer, **PROBLEM_RESPONSES},
    ),
    update=extend_schema(
        summary="Replace a connection's settings; secrets left out are kept",
        parameters=[_NAME],
        responses=_ONE,
    ),
    partial_update=extend_schema(
        summary="Change a connection; what is left out keeps its value",
        parameters=[_NAME],
        responses=_ONE,
    ),
    destroy=extend_schema(
        summary="Delete a connection",
        parameters=[_NAME],
        responses={204: None, **PROBLEM_RESPONSES},
    ),
)
class ConnectionViewSet(viewsets.ModelViewSet):
    serializer_class = ConnectionSerializer
    lookup_field = "name"
    lookup_value_regex = "[^/]+"
    action_permissions = {
        "list": "connections.view_outgoingconnection",
        "retrieve": "connections.view_outgoingconnection",
        "create": "connections.add_outgoingconnection",
        "update": "connections.change_outgoingconnection",
        "partial_update": "connections.change_outgoingconnection",
        "destroy": "connections.delete_outgoingconnection",
        "test": "connections.test_outgoingconnection",
    }
    filterset_fields = ["kind"]

    def get_queryset(self) -> QuerySet[OutgoingConnection]:
        return OutgoingConnection.objects.all()

    def perform_create(self, serializer: Any) -> None:
        data = serializer.validated_data
        serializer.instance = connection_create(
            name=data["name"],
            kind=data["kind"],
            settings=data["settings"],
            secrets=data.get("secrets", {}),
            by=self.request.user,
        )

    def perform_update(self, serializer: Any) -> None:
        data = serializer.validated_data
        serializer.instance = connection_update(
            connection=serializer.instance,
            name=data.get("name"),
            kind=data.get("kind"),
            settings=data.get("settings"),
            secrets=data.get("secrets"),
            by=self.request.user,
        )

    def perform_destroy(self, instance: OutgoingConnection) -> None:
        connection_delete(connection=instance, by=self.request.user)

    @extend_schema(
        summary="Test a connection: connect, authenticate, say why not",
        description="Answers 200 with the verdict whether or not the remote "
        "accepted; `ok` false and `detail` say what failed.",
        parameters=[_NAME],
        request=None,
        responses={200: ConnectionTestSerializer, **PROBLEM_RESPONSES},
    )
    @action(detail=True, methods=["post"])
    def test(self, request: Request, name: str) -> Response:
        result = connection_test(
            connection=self.get_object(), by=request.user, now=timezone.now()
        )
        return Response(result.as_dict())
