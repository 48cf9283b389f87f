"""The signed-in user (profile, personal tokens), the audit trail, the API docs."""

from __future__ import annotations

from typing import Any

import django_filters
from django.contrib.auth.views import redirect_to_login
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_serializer,
    extend_schema_view,
)
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from core.accounts import (
    api_token_create,
    api_token_revoke,
    profile_get,
    profile_set_clock,
    profile_set_time_zone,
)
from core.api.filters import UtcDateTimeFilter
from core.api.schema import (
    PROBLEM,
    PROBLEM_RESPONSES,
    THROTTLED_RESPONSE,
)
from core.api.throttling import AuthRateThrottle
from core.api.users import acting_user
from core.models import ApiToken, AuditEvent
from core.permissions import SIGNED_IN, HasActionPermission


# --- me -----------------------------------------------------------------------------
@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Your profile",
            value={
                "username": "edda-editor",
                "email": "edda@example.com",
                "is_superuser": False,
                "groups": ["editor"],
                "time_zone": "Europe/Berlin",
                "hour12": False,
            },
            response_only=True,
        ),
        OpenApiExample(
            "Change your zone", value={"time_zone": "Europe/Berlin"}, request_only=True
        ),
    ]
)
class MeSerializer(serializers.Serializer):
    username = serializers.CharField(read_only=True)
    email = serializers.CharField(read_only=True, help_text="May be empty.")
    is_superuser = serializers.BooleanField(read_only=True)
    groups = serializers.ListField(child=serializers.CharField(), read_only=True)
    time_zone = serializers.CharField(
        help_text="IANA zone the user reads and enters dates in."
    )
    hour12 = serializers.BooleanField(
        help_text="Show times on a 12-hour clock (AM/PM) in the web admin."
    )


def _me(user: Any) -> dict[str, Any]:
    profile = profile_get(user=user)
    return {
        "username": user.get_username(),
        "email": user.email,
        "is_superuser": user.is_superuser,
        "groups": sorted(user.groups.values_list("name", flat=True)),
        "time_zone": profile.time_zone,
        "hour12": profile.hour12,
    }


class MeView(APIView):
    """The signed-in user's profile: every signed-in user may read and set their own."""

    method_permissions = {"GET": SIGNED_IN, "PATCH": SIGNED_IN}

    @extend_schema(
        summary="Read your profile",
        responses={200: MeSerializer, **PROBLEM_RESPONSES},
    )
    def get(self, request: Request) -> Response:
        return Response(_me(request.user))

    @extend_schema(
        summary="Change your time zone or clock",
        request=MeSerializer,
        responses={200: MeSerializer, **PROBLEM_RESPONSES},
    )
    def patch(self, request: Request) -> Response:
        serializer = MeSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        if "time_zone" in serializer.validated_data:
            profile_set_time_zone(
                user=acting_user(request),
                time_zone=serializer.validated_data["time_zone"],
            )
        if "hour12" in serializer.validated_data:
            profile_set_clock(
                user=acting_user(request), hour12=serializer.validated_data["hour12"]
            )
        return Response(_me(request.user))


# --- personal tokens ------------------------------------------------------------------
_TOKEN_EXAMPLE = {
    "id": 7,
    "name": "ci",
    "prefix": "sch_AbC123",
    "created_at": "2030-01-07T12:00:00Z",
    "expires_at": None,
    "last_used_at": None,
    "revoked_at": None,
}


@extend_schema_serializer(
    examples=[OpenApiExample("A token", value=_TOKEN_EXAMPLE, response_only=True)]
)
class ApiTokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = [
            "id", "name", "prefix", "created_at", "expires_at", "last_used_at",
            "revoked_at",
        ]  # fmt: skip
        read_only_fields = fields


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A token for CI",
            value={"name": "ci", "expires_at": None},
            request_only=True,
        )
    ]
)
class ApiTokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "The new token, shown once",
            value={**_TOKEN_EXAMPLE, "token": "sch_AbC123..."},
            response_only=True,
        )
    ]
)
class ApiTokenCreatedSerializer(ApiTokenSerializer):
    token = serializers.CharField(
        help_text="The token itself: shown this once, never again."
    )

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "token"]
        read_only_fields = fields


@extend_schema_view(
    list=extend_schema(
        summary="List your API tokens",
        responses={200: ApiTokenSerializer(many=True), **PROBLEM_RESPONSES},
    ),
    destroy=extend_schema(
        summary="Revoke one of your API tokens",
        responses={204: None, **PROBLEM_RESPONSES},
    ),
)
class ApiTokenViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Your own tokens only: another user's token is a 404 here."""

    serializer_class = ApiTokenSerializer
    pagination_class = None
    action_permissions = {
        "list": SIGNED_IN,
        "create": SIGNED_IN,
        "destroy": SIGNED_IN,
    }

    def get_queryset(self) -> QuerySet[ApiToken]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return ApiToken.objects.none()
        return ApiToken.objects.filter(user=acting_user(self.request))

    def get_throttles(self) -> list[BaseThrottle]:
        # Minting tokens is signing in: limited like the compatible logins.
        if self.action == "create":
            return [AuthRateThrottle()]
        return super().get_throttles()

    @extend_schema(
        summary="Create an API token (the token is shown once)",
        request=ApiTokenCreateSerializer,
        responses={
            201: ApiTokenCreatedSerializer,
            **PROBLEM_RESPONSES,
            (429, PROBLEM): THROTTLED_RESPONSE,
        },
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = ApiTokenCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        token, raw = api_token_create(user=acting_user(request), **body.validated_data)
        data = {**ApiTokenSerializer(token).data, "token": raw}
        return Response(data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        api_token_revoke(token=self.get_object(), now=timezone.now())
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- audit ----------------------------------------------------------------------------
class AuditEventFilter(django_filters.FilterSet):
    object_type = django_filters.CharFilter(
        method="filter_object_type",
        help_text="`app_label.model`, e.g. schedules.schedule",
    )
    object_id = django_filters.CharFilter()
    actor = django_filters.CharFilter(
        field_name="actor_label", help_text="Username, or cli:<login> / system."
    )
    action = django_filters.MultipleChoiceFilter(choices=AuditEvent.Action.choices)
    interface = django_filters.MultipleChoiceFilter(
        choices=AuditEvent.Interface.choices
    )
    at_from = UtcDateTimeFilter("at", lookup_expr="gte")
    at_to = UtcDateTimeFilter("at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields: list[str] = []

    def filter_object_type(
        self, queryset: QuerySet[AuditEvent], name: str, value: str
    ) -> Any:
        app_label, _, model = value.lower().partition(".")
        return queryset.filter(
            content_type__app_label=app_label, content_type__model=model
        )


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A pause through the API",
            value={
                "id": 3,
                "at": "2030-01-07T12:00:00Z",
                "actor": "otto-operator",
                "action": "pause",
                "object_type": "schedules.schedule",
                "object_id": "12",
                "object_repr": "nightly-report",
                "interface": "api",
                "remote_addr": "203.0.113.7",
                "changes": {"is_paused": [False, True]},
            },
            response_only=True,
        )
    ]
)
class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_label")
    object_type = serializers.SerializerMethodField()
    changes = serializers.DictField(
        child=serializers.ListField(min_length=2, max_length=2),
        help_text="{field: [old, new]}; credentials name their fields, never values.",
    )

    class Meta:
        model = AuditEvent
        fields = [
            "id", "at", "actor", "action", "object_type", "object_id",
            "object_repr", "interface", "remote_addr", "changes",
        ]  # fmt: skip
        read_only_fields = fields

    def get_object_type(self, event: AuditEvent) -> str:
        return f"{event.content_type.app_label}.{event.content_type.model}"


@extend_schema_view(
    list=extend_schema(
        summary="List audit events (newest first)",
        responses={200: AuditEventSerializer(many=True), **PROBLEM_RESPONSES},
    ),
    retrieve=extend_schema(
        summary="Read an audit event",
        responses={200: AuditEventSerializer, **PROBLEM_RESPONSES},
    ),
)
class AuditEventViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter
    action_permissions = {
        "list": "scheduler_site.view_auditevent",
        "retrieve": "scheduler_site.view_auditevent",
    }

    def get_queryset(self) -> QuerySet[AuditEvent]:
        return AuditEvent.objects.select_related("content_type")


# --- the schema and its readers --------------------------------------------------
class _LoginPageForBrowsers:
    """A browser without a session is sent to the login page, then back here.

    Only when the request names text/html in Accept (a page load does, API
    clients and the docs' own fetch of the schema do not), so the API keeps
    answering 401 problem+json to programs.
    """

    def handle_exception(self, exc: Exception) -> Response:
        request = self.request  # type: ignore[attr-defined]
        if isinstance(exc, NotAuthenticated | AuthenticationFailed) and _asks_for_html(
            request
        ):
            return redirect_to_login(  # type: ignore[return-value]
                request.get_full_path(), login_url=reverse("admin:login")
            )
        return super().handle_exception(exc)  # type: ignore[misc]


def _asks_for_html(request: Request) -> bool:
    return "text/html" in request.META.get("HTTP_ACCEPT", "")


class SchemaView(_LoginPageForBrowsers, SpectacularAPIView):
    """The OpenAPI document: for signed-in users (it maps the whole API)."""

    permission_classes = [HasActionPermission]
    method_permissions = {"GET": SIGNED_IN}


class SwaggerView(_LoginPageForBrowsers, SpectacularSwaggerView):
    permission_classes = [HasActionPermission]
    method_permissions = {"GET": SIGNED_IN}


class RedocView(_LoginPageForBrowsers, SpectacularRedocView):
    permission_classes = [HasActionPermission]
    method_permissions = {"GET": SIGNED_IN}
    # drf-spectacular's page links Google Fonts; ours is the same page without
    # them (ReDoc falls back to the system's fonts), so no request leaves the host.
    template_name = "core/redoc.html"
