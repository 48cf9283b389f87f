from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from scheduler_site.accounts import profile_get, profile_set_time_zone


class MeSerializer(serializers.Serializer):
    username = serializers.CharField(read_only=True)
    email = serializers.EmailField(read_only=True)
    is_superuser = serializers.BooleanField(read_only=True)
    groups = serializers.ListField(child=serializers.CharField(), read_only=True)
    time_zone = serializers.CharField(
        help_text="IANA zone the user reads and enters dates in."
    )


def _me(user: Any) -> dict[str, Any]:
    return {
        "username": user.get_username(),
        "email": user.email,
        "is_superuser": user.is_superuser,
        "groups": sorted(user.groups.values_list("name", flat=True)),
        "time_zone": profile_get(user=user).time_zone,
    }


class MeView(APIView):
    """The signed-in user's profile: every signed-in user may read and set their own."""

    permission_classes = [IsAuthenticated]

    @extend_schema(summary="Read your profile", responses=MeSerializer)
    def get(self, request: Request) -> Response:
        return Response(_me(request.user))

    @extend_schema(
        summary="Change your time zone", request=MeSerializer, responses=MeSerializer
    )
    def patch(self, request: Request) -> Response:
        serializer = MeSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        if "time_zone" in serializer.validated_data:
            profile_set_time_zone(
                user=request.user, time_zone=serializer.validated_data["time_zone"]
            )
        return Response(_me(request.user))
