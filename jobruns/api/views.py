"""Native API for job runs and the services catalogue: thin over jobruns.services."""

from __future__ import annotations

import time
from typing import Any

import django_filters
from django.conf import settings
from django.db.models import Q, QuerySet
from django.http import FileResponse, Http404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import generics, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from core.api.errors import Conflict
from core.api.filters import UtcDateTimeFilter
from core.api.pagination import KeysetOptInPagination
from core.api.schema import (
    CONFLICT_RESPONSE,
    PROBLEM,
    PROBLEM_RESPONSES,
    location_header,
)
from core.api.users import acting_user
from core.counting import EXACT_COUNT_UP_TO
from jobruns.api.serializers import (
    InvokeSerializer,
    JobRunDetailSerializer,
    JobRunSerializer,
    RunLogSerializer,
    RunNowSerializer,
    ServiceSerializer,
)
from jobruns.models import JobRun
from jobruns.registry import (
    ServiceNotFound,
    all_services,
    get_service,
    service_as_dict,
)
from jobruns.selectors import (
    ResultFileMissing,
    jobrun_ordering,
    jobrun_result_file,
)
from jobruns.services import jobrun_cancel, jobrun_enqueue, jobrun_rerun
from schedules.models import Schedule

# How often a waiting invoke looks whether its run ended.
INVOKE_POLL_SECONDS = 0.2


class JobRunFilter(django_filters.FilterSet):
    schedule = django_filters.CharFilter(
        field_name="schedule_name", help_text="Schedule name."
    )
    # distinct=False: no join can repeat a run, and django-filter's DISTINCT
    # over every column made the count of `?status=failed` a sort (110 ms at 1M).
    status = django_filters.MultipleChoiceFilter(
        choices=JobRun.Status.choices, distinct=False
    )
    trigger = django_filters.MultipleChoiceFilter(
        choices=JobRun.Trigger.choices, distinct=False
    )
    service = django_filters.CharFilter()
    queued_from = UtcDateTimeFilter("queued_at", lookup_expr="gte")
    queued_to = UtcDateTimeFilter("queued_at", lookup_expr="lt")
    started_from = UtcDateTimeFilter("started_at", lookup_expr="gte")
    started_to = UtcDateTimeFilter("started_at", lookup_expr="lt")
    finished_from = UtcDateTimeFilter("finished_at", lookup_expr="gte")
    finished_to = UtcDateTimeFilter("finished_at", lookup_expr="lt")
    q = django_filters.CharFilter(
        method="filter_text",
        help_text="Text in the schedule, service, error, correlation id or who "
        "triggered the run.",
    )

    class Meta:
        model = JobRun
        fields: list[str] = []

    def filter_text(self, queryset: QuerySet[JobRun], name: str, value: str) -> Any:
        return queryset.filter(
            Q(schedule_name__icontains=value)
            | Q(service__icontains=value)
            | Q(error__icontains=value)
            | Q(correlation_id__icontains=value)
            | Q(triggered_by_label__icontains=value)
        )


class RunOrderingFilter(OrderingFilter):
    """`ordering` with ties broken as the run indexes are built (by id after a
    time): a total order, so offset pages neither repeat nor skip runs."""

    def get_ordering(self, request: Request, queryset: Any, view: Any) -> Any:
        ordering = super().get_ordering(request, queryset, view)
        return jobrun_ordering(ordering) if ordering else ordering


class AnyFileRenderer(JSONRenderer):
    """Lets content negotiation accept whatever a file download asks for.

    The file itself is a FileResponse and never rendered; what this renders is
    a problem (404 and the like), which stays JSON whatever was asked for.
    """

    media_type = "*/*"
    format = "file"


def _ended_within(run: JobRun, seconds: float) -> bool:
    """Wait up to `seconds` for a worker to end the run (it is already sent)."""
    deadline = time.monotonic() + seconds
    while True:
        run.refresh_from_db()
        if run.is_finished:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(min(INVOKE_POLL_SECONDS, max(0.0, deadline - time.monotonic())))


def run_accepted(request: Request, run: JobRun) -> Response:
    """202 with the run and its `Location`: the run is queued, not finished."""
    location = reverse("jobrun-detail", args=[run.pk], request=request)
    context = {"request": request}
    return Response(
        JobRunDetailSerializer(run, context=context).data,
        status=status.HTTP_202_ACCEPTED,
        headers={"Location": location},
    )


_RUN_RESPONSES = {200: JobRunDetailSerializer, **PROBLEM_RESPONSES}
# A run queued by a request (run now, retry): 202, or 409 if refused now.
_ACCEPTED_RESPONSES = {
    202: JobRunDetailSerializer,
    **PROBLEM_RESPONSES,
    (409, PROBLEM): CONFLICT_RESPONSE,
}


class ScheduleRunNowView(generics.GenericAPIView[Schedule]):
    """POST /api/v1/schedules/{name}/run-now/.

    Under the schedule's URL but served here: a run is jobruns' to make, and
    jobruns imports schedules, never the other way (imports run downhill).
    """

    queryset = Schedule.objects.all()
    lookup_field = "name"
    serializer_class = RunNowSerializer
    method_permissions = {"POST": "schedules.run_schedule"}

    @extend_schema(
        operation_id="schedules_run_now_create",
        tags=["schedules"],
        summary="Run a schedule now (paused or not)",
        description="Queues a run with the schedule's input, or `input` for this "
        "run only; answers 202 with the run and its `Location`. 409 when the "
        "overlap policy refuses another run now.",
        parameters=[location_header(202, "The queued run's URL.")],
        request=RunNowSerializer,
        responses=_ACCEPTED_RESPONSES,
    )
    def post(self, request: Request, name: str) -> Response:
        schedule = self.get_object()
        body = RunNowSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        # Like Zato's "Execute", a paused schedule runs too: pausing stops fires.
        run = jobrun_enqueue(
            schedule=schedule,
            trigger=JobRun.Trigger.API,
            args=body.validated_data["args"],
            input_override=body.validated_data.get("input"),
            by=acting_user(request),
            now=timezone.now(),
        )
        return run_accepted(request, run)


@extend_schema_view(
    list=extend_schema(
        summary="List runs (newest first)",
        description="Paged with `limit` and `offset`. `count` is exact up to "
        f"{EXACT_COUNT_UP_TO:,} matching runs; above that it is the database's "
        "estimate and `count_is_exact` is false (counting a million runs on "
        "every page cost more than the page). `next` is exact either way: "
        "follow it until it is null. To walk a long history, send `cursor` "
        "(empty) instead of `offset`: keyset pages cost the same at any depth.",
        responses={200: JobRunSerializer(many=True), **PROBLEM_RESPONSES},
    ),
    retrieve=extend_schema(summary="Read a run", responses=_RUN_RESPONSES),
)
class JobRunViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Every role may read every run; acting on one needs cancel or retry."""

    serializer_class = JobRunSerializer
    filterset_class = JobRunFilter
    filter_backends = [
        django_filters.rest_framework.DjangoFilterBackend,
        RunOrderingFilter,
    ]
    ordering_fields = ["queued_at", "started_at", "finished_at", "id"]
    # Served by jobrun_recent_idx (and jobrun_by_status_idx with ?status=).
    ordering = ["-queued_at", "-id"]
    pagination_class = KeysetOptInPagination
    cursor_ordering_fields = ["queued_at", "id"]  # never null
    action_permissions = {
        "list": "jobruns.view_jobrun",
        "retrieve": "jobruns.view_jobrun",
        "log": "jobruns.view_jobrun",
        "result_file": "jobruns.view_jobrun",
        "cancel": "jobruns.cancel_jobrun",
        "retry": "jobruns.retry_jobrun",
    }

    def get_queryset(self) -> QuerySet[JobRun]:
        # The list leaves out the big text columns it does not show.
        runs = JobRun.objects.all()
        if self.action == "list":
            runs = runs.defer("log", "traceback", "output", "input", "extra")
        return runs

    def get_serializer_class(self) -> Any:
        return JobRunSerializer if self.action == "list" else JobRunDetailSerializer

    @extend_schema(
        summary="Cancel a queued or running run",
        request=None,
        responses={**_RUN_RESPONSES, (409, PROBLEM): CONFLICT_RESPONSE},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        run = self.get_object()
        if not jobrun_cancel(run=run, by=acting_user(request), now=timezone.now()):
            raise Conflict(
                f"Run #{run.pk} is {run.status}; only queued or running runs "
                "can be cancelled."
            )
        run.refresh_from_db()
        return Response(self.get_serializer(run).data)

    @extend_schema(
        summary="Retry a failed, timed out or cancelled run now",
        description="Queues the next attempt (a new run, linked to the first); "
        "answers 202 with it and its `Location`.",
        parameters=[location_header(202, "The new run's URL.")],
        request=None,
        responses=_ACCEPTED_RESPONSES,
    )
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str) -> Response:
        run = jobrun_rerun(
            run=self.get_object(), by=acting_user(request), now=timezone.now()
        )
        return run_accepted(request, run)

    @extend_schema(
        summary="Read a run's log",
        responses={200: RunLogSerializer, **PROBLEM_RESPONSES},
    )
    @action(detail=True, methods=["get"])
    def log(self, request: Request, pk: str) -> Response:
        run = self.get_object()
        return Response({"id": run.pk, "status": run.status, "log": run.log})

    @extend_schema(
        summary="Download a run's result file",
        description="The file the service wrote, with its content type (CSV: "
        "text/csv) and name in Content-Disposition; 404 if there is none.",
        responses={
            (200, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY,
                description="The file.",
                examples=[
                    OpenApiExample(
                        "A CSV result",
                        value="id,name,sku,price\n17,Hoodie,WOO-HOODIE,45.00\n",
                    )
                ],
            ),
            **PROBLEM_RESPONSES,
        },
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="result-file",
        renderer_classes=[JSONRenderer, AnyFileRenderer],
    )
    def result_file(self, request: Request, pk: str) -> FileResponse:
        try:
            found = jobrun_result_file(run=self.get_object())
        except ResultFileMissing as missing:
            raise Http404(str(missing)) from None
        return FileResponse(
            found.handle,
            as_attachment=True,
            filename=found.filename,
            content_type=found.content_type,
        )


class ServiceViewSet(viewsets.ViewSet):
    """The registry: what a schedule's `target` or a run may name."""

    lookup_field = "name"
    lookup_value_regex = "[^/]+"
    serializer_class = ServiceSerializer
    action_permissions = {
        "list": "jobruns.view_jobrun",
        "retrieve": "jobruns.view_jobrun",
        # Any input, not a schedule's: an editor's power (core/roles.py).
        "invoke": "jobruns.invoke_service",
    }

    @extend_schema(
        summary="Invoke a service directly",
        description="Creates a run (trigger `api`) as run now does. Ended within "
        "`wait_seconds`: 200 with the run; otherwise 202 with the run and its "
        "`Location`. An input that does not fit the service's schema: 400.",
        parameters=[
            OpenApiParameter("name", str, OpenApiParameter.PATH),
            location_header(202, "The run's URL, to poll."),
        ],
        request=InvokeSerializer,
        responses={
            200: JobRunDetailSerializer,
            202: JobRunDetailSerializer,
            **PROBLEM_RESPONSES,
        },
    )
    @action(detail=True, methods=["post"])
    def invoke(self, request: Request, name: str) -> Response:
        try:
            get_service(name)
        except ServiceNotFound:
            raise Http404 from None
        body = InvokeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        run = jobrun_enqueue(
            service=name,
            trigger=JobRun.Trigger.API,
            args=data["args"],
            input_override=data["input"],
            extra=data["extra"],
            by=acting_user(request),
            now=timezone.now(),
        )
        wait = min(data["wait_seconds"], settings.SERVICE_INVOKE_MAX_WAIT_SECONDS)
        if _ended_within(run, wait):
            context = {"request": request}
            return Response(JobRunDetailSerializer(run, context=context).data)
        return run_accepted(request, run)

    @extend_schema(
        summary="List services",
        responses={200: ServiceSerializer(many=True), **PROBLEM_RESPONSES},
    )
    def list(self, request: Request) -> Response:
        return Response([service_as_dict(s) for s in all_services()])

    @extend_schema(
        summary="Read a service",
        parameters=[OpenApiParameter("name", str, OpenApiParameter.PATH)],
        responses={200: ServiceSerializer, **PROBLEM_RESPONSES},
    )
    def retrieve(self, request: Request, name: str) -> Response:
        try:
            return Response(service_as_dict(get_service(name)))
        except ServiceNotFound:
            raise Http404 from None
