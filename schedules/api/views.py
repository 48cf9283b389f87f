"""Native REST API for schedules: thin viewsets over `schedules.services`."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Q, QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request
from rest_framework.response import Response

from core.accounts import profile_get
from core.api.errors import PreconditionFailed
from core.api.schema import (
    CONFLICT_RESPONSE,
    ETAG_HEADER,
    PRECONDITION_RESPONSE,
    PROBLEM,
    PROBLEM_RESPONSES,
    location_header,
)
from core.api.users import acting_user
from core.api.views import AuditEventSerializer
from core.audit import audit_events_for
from schedules.api.serializers import (
    CRON_SCHEDULE_EXAMPLE,
    CountSerializer,
    PauseSerializer,
    PreviewRequestSerializer,
    PreviewSerializer,
    ScheduleSerializer,
    ScheduleWriteSerializer,
    TagsSerializer,
)
from schedules.models import Schedule
from schedules.services import (
    schedule_create,
    schedule_delete,
    schedule_pause,
    schedule_pause_all,
    schedule_preview,
    schedule_resume,
    schedule_resume_all,
    schedule_tag_remove,
    schedule_tags_replace,
    schedule_update,
)


class ScheduleFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=Schedule.Kind.choices)
    paused = django_filters.BooleanFilter(field_name="is_paused")
    target = django_filters.CharFilter()
    tag = django_filters.CharFilter(
        method="filter_tag", help_text="`key` or `key:value`"
    )
    q = django_filters.CharFilter(
        method="filter_text", help_text="Text in the name, description or target."
    )

    class Meta:
        model = Schedule
        fields = ["kind", "paused", "target", "tag", "q"]

    def filter_tag(self, queryset: QuerySet[Schedule], name: str, value: str) -> Any:
        key, _, tag_value = value.partition(":")
        condition = Q(tags__key=key)
        if tag_value:
            condition &= Q(tags__value=tag_value)
        return queryset.filter(condition).distinct()

    def filter_text(self, queryset: QuerySet[Schedule], name: str, value: str) -> Any:
        return queryset.filter(
            Q(name__icontains=value)
            | Q(description__icontains=value)
            | Q(target__icontains=value)
        )


def schedule_etag(schedule: Schedule) -> str:
    """Changes whenever the row is written (every service sets updated_at)."""
    return f'"{schedule.pk}-{int(schedule.updated_at.timestamp() * 1_000_000)}"'


def _viewer_zone(request: Request) -> str:
    return (
        request.query_params.get("tz")
        or profile_get(user=acting_user(request)).time_zone
    )


_SCHEDULE_RESPONSES = {200: ScheduleSerializer, **PROBLEM_RESPONSES}
# Writes guarded by If-Match; a rename may hit a taken name.
_WRITE_RESPONSES = {
    **_SCHEDULE_RESPONSES,
    (409, PROBLEM): CONFLICT_RESPONSE,
    (412, PROBLEM): PRECONDITION_RESPONSE,
}


@extend_schema_view(
    list=extend_schema(
        summary="List schedules",
        responses={200: ScheduleSerializer(many=True), **PROBLEM_RESPONSES},
    ),
    retrieve=extend_schema(
        summary="Read a schedule",
        parameters=[ETAG_HEADER],
        responses=_SCHEDULE_RESPONSES,
    ),
    create=extend_schema(
        summary="Create a schedule",
        parameters=[ETAG_HEADER, location_header(201, "The new schedule's URL.")],
        request=ScheduleWriteSerializer,
        responses={
            201: ScheduleSerializer,
            **PROBLEM_RESPONSES,
            (409, PROBLEM): CONFLICT_RESPONSE,
        },
    ),
    update=extend_schema(
        summary="Replace a schedule (send If-Match with the ETag you read)",
        parameters=[ETAG_HEADER],
        request=ScheduleWriteSerializer,
        responses=_WRITE_RESPONSES,
    ),
    partial_update=extend_schema(
        summary="Change some fields of a schedule (send If-Match)",
        parameters=[ETAG_HEADER],
        request=ScheduleWriteSerializer,
        responses=_WRITE_RESPONSES,
        # A PATCH sends only what changes; the view's examples replace the
        # serializers' full ones, so the answer's example is repeated here.
        examples=[
            OpenApiExample(
                "Fire at 03:00 instead",
                value={"cron_expression": "0 0 3 * * *"},
                request_only=True,
            ),
            OpenApiExample(
                "The changed schedule",
                value={
                    **CRON_SCHEDULE_EXAMPLE,
                    "cron_expression": "0 0 3 * * *",
                    "next_run_at": "2030-01-08T02:00:00Z",
                    "description_human": "At 03:00 (Europe/Berlin)",
                    "updated_at": "2030-01-07T12:10:00Z",
                },
                response_only=True,
            ),
        ],
    ),
    destroy=extend_schema(
        summary="Delete a schedule",
        responses={
            204: None,
            **PROBLEM_RESPONSES,
            (412, PROBLEM): PRECONDITION_RESPONSE,
        },
    ),
)
class ScheduleViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = ScheduleSerializer
    lookup_field = "name"
    lookup_value_regex = r"[A-Za-z0-9_.\-]+"
    filterset_class = ScheduleFilter
    filter_backends = [
        django_filters.rest_framework.DjangoFilterBackend,
        OrderingFilter,
    ]
    ordering_fields = ["name", "next_run_at", "last_run_at", "created_at", "priority"]
    ordering = ["name"]
    action_permissions = {
        "list": "schedules.view_schedule",
        "retrieve": "schedules.view_schedule",
        "next_runs": "schedules.view_schedule",
        "preview": "schedules.view_schedule",
        "tags": "schedules.view_schedule",
        "create": "schedules.add_schedule",
        "update": "schedules.change_schedule",
        "partial_update": "schedules.change_schedule",
        "replace_tags": "schedules.change_schedule",
        "remove_tag": "schedules.change_schedule",
        "destroy": "schedules.delete_schedule",
        "pause": "schedules.pause_schedule",
        "resume": "schedules.pause_schedule",
        "pause_all": "schedules.pause_schedule",
        "resume_all": "schedules.pause_schedule",
        "history": "scheduler_site.view_auditevent",
    }

    def get_queryset(self) -> QuerySet[Schedule]:
        return Schedule.objects.select_related(
            "paused_by", "created_by", "updated_by"
        ).prefetch_related("tags")

    def _respond(self, schedule: Schedule, code: int = 200, **headers: str) -> Response:
        fresh = self.get_queryset().get(pk=schedule.pk)
        response = Response(self.get_serializer(fresh).data, status=code)
        response["ETag"] = schedule_etag(fresh)
        for name, value in headers.items():
            response[name] = value
        return response

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._respond(self.get_object())

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self._write_data(request, partial=False)
        schedule = schedule_create(data=data, by=request.user, now=timezone.now())
        location = request.build_absolute_uri(f"{schedule.name}/")
        return self._respond(schedule, status.HTTP_201_CREATED, Location=location)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        schedule = self.get_object()
        self._check_if_match(request, schedule)
        data = self._write_data(request, partial=kwargs.get("partial", False))
        updated = schedule_update(
            schedule=schedule, data=data, by=request.user, now=timezone.now()
        )
        return self._respond(updated)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        schedule = self.get_object()
        self._check_if_match(request, schedule)
        schedule_delete(schedule=schedule, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _write_data(self, request: Request, *, partial: bool) -> dict[str, Any]:
        serializer = ScheduleWriteSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    @staticmethod
    def _check_if_match(request: Request, schedule: Schedule) -> None:
        """Lost-update protection: a stale If-Match is refused, not overwritten."""
        expected = request.headers.get("If-Match")
        if expected is None or expected.strip() == "*":
            return
        candidates = {tag.strip().removeprefix("W/") for tag in expected.split(",")}
        if schedule_etag(schedule) not in candidates:
            raise PreconditionFailed()

    @extend_schema(
        summary="Pause a schedule",
        parameters=[ETAG_HEADER],
        request=PauseSerializer,
        responses=_SCHEDULE_RESPONSES,
    )
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, name: str | None = None) -> Response:
        schedule = self.get_object()
        body = PauseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        schedule_pause(
            schedule=schedule,
            by=request.user,
            reason=body.validated_data["reason"],
            now=timezone.now(),
        )
        return self._respond(schedule)

    @extend_schema(summary="Resume a paused schedule", request=None,
                   parameters=[ETAG_HEADER],
                   responses=_SCHEDULE_RESPONSES)  # fmt: skip
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, name: str | None = None) -> Response:
        schedule = self.get_object()
        schedule_resume(schedule=schedule, by=request.user, now=timezone.now())
        return self._respond(schedule)

    @extend_schema(
        summary="Pause every schedule",
        request=PauseSerializer,
        responses={200: CountSerializer, **PROBLEM_RESPONSES},
    )
    @action(detail=False, methods=["post"], url_path="pause-all")
    def pause_all(self, request: Request) -> Response:
        body = PauseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        count = schedule_pause_all(
            by=request.user, reason=body.validated_data["reason"], now=timezone.now()
        )
        return Response({"count": count})

    @extend_schema(summary="Resume every paused schedule", request=None,
                   responses={200: CountSerializer, **PROBLEM_RESPONSES})  # fmt: skip
    @action(detail=False, methods=["post"], url_path="resume-all")
    def resume_all(self, request: Request) -> Response:
        return Response(
            {"count": schedule_resume_all(by=request.user, now=timezone.now())}
        )

    @extend_schema(
        summary="The next fire times of a schedule",
        parameters=[
            OpenApiParameter("count", OpenApiTypes.INT, description="1-100, default 5"),
            OpenApiParameter(
                "tz", OpenApiTypes.STR, description="viewer's zone; default: yours"
            ),
        ],
        responses={200: PreviewSerializer, **PROBLEM_RESPONSES},
    )
    @action(detail=True, methods=["get"], url_path="next-runs")
    def next_runs(self, request: Request, name: str | None = None) -> Response:
        schedule = self.get_object()
        preview = schedule_preview(
            schedule=schedule,
            count=_count(request.query_params.get("count", "5")),
            viewer_zone=_viewer_zone(request),
            now=timezone.now(),
        )
        return Response(preview.as_dict())

    @extend_schema(
        summary="Preview the fire times of an unsaved definition",
        request=PreviewRequestSerializer,
        responses={200: PreviewSerializer, **PROBLEM_RESPONSES},
    )
    @action(detail=False, methods=["post"])
    def preview(self, request: Request) -> Response:
        body = PreviewRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        definition = dict(body.validated_data)
        count = definition.pop("count")
        viewer_zone = definition.pop("viewer_zone", None) or _viewer_zone(request)
        preview = schedule_preview(
            definition=definition,
            count=count,
            viewer_zone=viewer_zone,
            now=timezone.now(),
        )
        return Response(preview.as_dict())

    @extend_schema(summary="Read a schedule's tags",
                   responses={200: TagsSerializer, **PROBLEM_RESPONSES})  # fmt: skip
    @action(detail=True, methods=["get"])
    def tags(self, request: Request, name: str | None = None) -> Response:
        schedule = self.get_object()
        return Response({"tags": {t.key: t.value for t in schedule.tags.all()}})

    @extend_schema(summary="Replace a schedule's tags", request=TagsSerializer,
                   responses={200: TagsSerializer, **PROBLEM_RESPONSES})  # fmt: skip
    @tags.mapping.put
    def replace_tags(self, request: Request, name: str | None = None) -> Response:
        schedule = self.get_object()
        body = TagsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        tags = schedule_tags_replace(
            schedule=schedule,
            tags=body.validated_data["tags"],
            by=request.user,
            now=timezone.now(),
        )
        return Response({"tags": tags})

    @extend_schema(summary="Remove one tag", request=None,
                   responses={204: None, **PROBLEM_RESPONSES})  # fmt: skip
    @action(detail=True, methods=["delete"], url_path=r"tags/(?P<key>[^/]+)")
    def remove_tag(
        self, request: Request, name: str | None = None, key: str = ""
    ) -> Response:
        schedule = self.get_object()
        schedule_tag_remove(schedule=schedule, key=key, by=request.user,
                            now=timezone.now())  # fmt: skip
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        filters=False,  # the schedule list's filters do not apply here
        summary="A schedule's audit history (newest first)",
        responses={200: AuditEventSerializer(many=True), **PROBLEM_RESPONSES},
    )
    @action(detail=True, methods=["get"])
    def history(self, request: Request, name: str | None = None) -> Response:
        events = audit_events_for(self.get_object())
        page = self.paginate_queryset(events)
        data = AuditEventSerializer(page, many=True).data
        return self.get_paginated_response(data)


def _count(raw: str) -> int:
    from django.core.exceptions import ValidationError

    try:
        return int(raw)
    except ValueError:
        raise ValidationError({"count": ["count must be a whole number"]}) from None
