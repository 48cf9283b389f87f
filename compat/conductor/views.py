"""Conductor-compatible endpoints: one APIView per operation (STYLE.md 8).

Each view translates Conductor's shapes and calls the same services as the
native API. They are left out of our OpenAPI document (`schema = None`): their
shape is Conductor's, documented by Conductor and specs/conductor.md.
"""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from compat.conductor import search
from compat.conductor import serializers as wire
from compat.conductor.authentication import (
    ConductorOpenModeAuthentication,
    ConductorTokenAuthentication,
)
from compat.conductor.errors import (
    conductor_exception_handler,
    error_body,
)
from compat.conductor.selectors import (
    conductor_schedule_get,
    conductor_schedule_list,
    schedule_execution_search,
)
from compat.conductor.services import (
    conductor_cron_dialect,
    conductor_requeue,
    conductor_schedule_save,
    conductor_token_issue,
    from_ms,
    to_ms,
)
from core.api.authentication import BearerTokenAuthentication
from core.api.parsers import JSONParser
from core.permissions import HasActionPermission
from jobruns.models import JobRun
from jobruns.registry import service_exists
from jobruns.services import jobrun_enqueue
from schedules.models import Schedule
from schedules.services import (
    PREVIEW_MAX,
    schedule_delete,
    schedule_pause,
    schedule_pause_all,
    schedule_preview,
    schedule_resume,
    schedule_resume_all,
    schedule_tag_remove,
    schedule_tags_replace,
)

VIEW = "schedules.view_schedule"
CHANGE = "schedules.change_schedule"
PAUSE = "schedules.pause_schedule"
NEXT_FEW_DEFAULT = 5
SEARCH_SIZE_DEFAULT, SEARCH_SIZE_MAX = 100, 1000


class ConductorView(APIView):
    schema = None  # Conductor's shapes, not ours: excluded from our OpenAPI
    authentication_classes = [
        ConductorTokenAuthentication,
        BearerTokenAuthentication,
        SessionAuthentication,
        ConductorOpenModeAuthentication,
    ]
    permission_classes = [HasActionPermission]
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]
    method_permissions: dict[str, str] = {}

    def get_exception_handler(self) -> Any:
        return conductor_exception_handler

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # 405 before authentication and permissions: the SDK falls back from
        # PUT to GET only on a 405, and HasActionPermission would refuse a
        # method without a permission entry with a 403.
        if request.method not in self.allowed_methods:
            raise exceptions.MethodNotAllowed(request.method or "")
        super().initial(request, *args, **kwargs)

    def _schedule(self, name: str) -> Schedule:
        schedule = Schedule.objects.filter(name=name).first()
        if schedule is None:
            raise exceptions.NotFound(f"Schedule '{name}' not found")
        return schedule


def _acting(request: Request) -> AbstractBaseUser:
    """The user a call acts as (HasActionPermission let only signed-in ones by)."""
    assert request.user.is_authenticated
    return cast("AbstractBaseUser", request.user)


def _empty() -> Response:
    """200 with an empty body, as Conductor answers its void operations."""
    return Response(status=200)


# --- schedules ------------------------------------------------------------------------
class SchedulesView(ConductorView):
    """GET: list (optionally by workflowName). POST: upsert a SaveScheduleRequest."""

    # Saving changes the schedule table either way; creating also needs "add".
    method_permissions = {"GET": VIEW, "POST": CHANGE}

    def get(self, request: Request) -> Response:
        schedules = conductor_schedule_list(
            workflow_name=request.query_params.get("workflowName")
        )
        return Response([wire.workflow_schedule(s) for s in schedules])

    def post(self, request: Request) -> Response:
        body = wire.SaveScheduleRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        creates = not Schedule.objects.filter(name=data["name"]).exists()
        if creates and not request.user.has_perm("schedules.add_schedule"):
            raise exceptions.PermissionDenied()
        dialect = conductor_cron_dialect(data["cronExpression"])
        schedule, _ = conductor_schedule_save(
            data=wire.schedule_data(data, dialect=dialect),
            catchup=bool(data.get("runCatchupScheduleInstances")),
            start_request_extra=wire.kept_request_keys(data["startWorkflowRequest"]),
            by=_acting(request),
            now=timezone.now(),
        )
        fresh = conductor_schedule_get(schedule.name)
        return Response(wire.workflow_schedule(fresh) if fresh else None)


class ScheduleView(ConductorView):
    """GET / DELETE one schedule by name.

    Also serves the SDK docs' `PUT /scheduler/schedules/pause|resume` (pause or
    resume all): those paths collide with a schedule named "pause" or "resume",
    so this view owns both and PUT means the all-variant.
    """

    method_permissions = {
        "GET": VIEW,
        "DELETE": "schedules.delete_schedule",
        "PUT": PAUSE,
    }

    def get(self, request: Request, name: str) -> Response:
        schedule = conductor_schedule_get(name)
        # Missing: 200 with an empty body, so the SDK's get_schedule() returns
        # None (specs/README.md decision; newest OSS answers 404 instead).
        if schedule is None:
            return _empty()
        return Response(wire.workflow_schedule(schedule))

    def delete(self, request: Request, name: str) -> Response:
        schedule = Schedule.objects.filter(name=name).first()
        if schedule is not None:  # missing: a silent 200, as Conductor does
            schedule_delete(schedule=schedule, by=request.user)
        return _empty()

    def put(self, request: Request, name: str) -> Response:
        if name == "pause":
            return _pause_all(request)
        if name == "resume":
            return _resume_all(request)
        raise exceptions.MethodNotAllowed("PUT")


class SchedulePauseView(ConductorView):
    """PUT (OSS) or GET (Orkes) .../pause?reason=."""

    method_permissions = {"PUT": PAUSE, "GET": PAUSE}

    def put(self, request: Request, name: str) -> Response:
        schedule_pause(
            schedule=self._schedule(name),
            by=request.user,
            reason=request.query_params.get("reason") or "",
            now=timezone.now(),
        )
        return _empty()

    get = put


class ScheduleResumeView(ConductorView):
    """PUT (OSS) or GET (Orkes) .../resume.

    Deviation: resuming a schedule that is not paused is a no-op 200, where OSS
    answers 404 "not found" for it (a quirk; the schedule does exist).
    """

    method_permissions = {"PUT": PAUSE, "GET": PAUSE}

    def put(self, request: Request, name: str) -> Response:
        schedule_resume(
            schedule=self._schedule(name), by=request.user, now=timezone.now()
        )
        return _empty()

    get = put


class ScheduleTagsView(ConductorView):
    """GET the tags; PUT (or the docs' POST) replaces them; DELETE removes pairs."""

    method_permissions = {"GET": VIEW, "PUT": CHANGE, "POST": CHANGE, "DELETE": CHANGE}

    def get(self, request: Request, name: str) -> Response:
        schedule = self._schedule(name)
        return Response(wire.tag_objects(schedule))

    def put(self, request: Request, name: str) -> Response:
        schedule = self._schedule(name)
        tags = _tag_body(request)
        schedule_tags_replace(
            schedule=schedule,
            tags=wire.tag_items(tags),
            by=request.user,
            now=timezone.now(),
        )
        return _empty()

    post = put

    def delete(self, request: Request, name: str) -> Response:
        schedule = self._schedule(name)
        now = timezone.now()
        for tag in _tag_body(request):
            value = tag.get("value")
            schedule_tag_remove(
                schedule=schedule,
                key=tag["key"],
                value=None if value is None else str(value),
                by=request.user,
                now=now,
            )
        return _empty()


def _tag_body(request: Request) -> list[dict[str, Any]]:
    body = wire.TagObjectSerializer(data=request.data, many=True)
    body.is_valid(raise_exception=True)
    return list(body.validated_data)


# --- pause / resume all, requeue ------------------------------------------------------
def _pause_all(request: Request) -> Response:
    schedule_pause_all(
        by=request.user,
        reason="paused with every schedule through the Conductor API",
        now=timezone.now(),
    )
    return Response({"status": "done"})


def _resume_all(request: Request) -> Response:
    schedule_resume_all(by=request.user, now=timezone.now())
    return Response({"status": "done"})


class PauseAllView(ConductorView):
    """GET /scheduler/admin/pause: pause every schedule (the SDK's meaning)."""

    method_permissions = {"GET": PAUSE}

    def get(self, request: Request) -> Response:
        return _pause_all(request)


class ResumeAllView(ConductorView):
    """GET /scheduler/admin/resume: resume every paused schedule."""

    method_permissions = {"GET": PAUSE}

    def get(self, request: Request) -> Response:
        return _resume_all(request)


class RequeueView(ConductorView):
    """GET /scheduler/admin/requeue (SDK) or POST /scheduler/requeue (docs)."""

    method_permissions = {"GET": "jobruns.retry_jobrun", "POST": "jobruns.retry_jobrun"}

    def get(self, request: Request) -> Response:
        count, sample = conductor_requeue(now=timezone.now())
        return Response({"recordIds.size": count, "sampleIds": sample})

    post = get


# --- times and executions -------------------------------------------------------------
def _int_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise exceptions.ValidationError(
            {name: [f"{name} must be a whole number, got {raw!r}"]}
        ) from None


def _ms_param(request: Request, name: str) -> int | None:
    """An epoch-milliseconds query parameter, refused (400) outside from_ms's range."""
    value = _int_param(request, name)
    if value is not None:
        try:
            from_ms(value)
        except ValueError as error:
            raise exceptions.ValidationError({name: [str(error)]}) from None
    return value


class NextFewSchedulesView(ConductorView):
    """The next fire times (epoch ms) of a cron expression.

    Evaluated in UTC (Conductor's server zone; `zoneId` may name another),
    strictly after max(now, scheduleStartTime) and not after scheduleEndTime.
    `limit` defaults to 5 and is capped at 100 (Conductor caps at 5).
    """

    method_permissions = {"GET": VIEW}

    def get(self, request: Request) -> Response:
        cron = request.query_params.get("cronExpression", "")
        if not cron.strip():
            raise exceptions.ValidationError(
                {"cronExpression": ["cronExpression is required, e.g. '0 0 * * * *'"]}
            )
        start, end = (
            _ms_param(request, "scheduleStartTime"),
            _ms_param(request, "scheduleEndTime"),
        )
        limit = _int_param(request, "limit") or NEXT_FEW_DEFAULT
        now = timezone.now()
        after = max(now, from_ms(start)) if start else now
        if end and from_ms(end) <= after:
            conductor_cron_dialect(cron)  # a bad expression is still an error
            return Response([])
        preview = schedule_preview(
            definition={
                "kind": Schedule.Kind.CRON,
                "cron_expression": cron,
                "cron_dialect": conductor_cron_dialect(cron),
                "time_zone": request.query_params.get("zoneId") or "UTC",
                "start_at": from_ms(start) if start else None,
                "end_at": from_ms(end) if end else None,
            },
            count=max(1, min(limit, PREVIEW_MAX)),
            now=now,
        )
        return Response([to_ms(fire.utc) for fire in preview.fires])


class SearchExecutionsView(ConductorView):
    """Schedule executions (runs of schedules), with query, sort and paging."""

    method_permissions = {"GET": "jobruns.view_jobrun"}

    def get(self, request: Request) -> Response:
        try:
            query = search.parse_query(request.query_params.get("query"))
        except search.QueryError as error:
            raise exceptions.ValidationError({"query": [str(error)]}) from None
        start = max(_int_param(request, "start") or 0, 0)
        size = _int_param(request, "size") or SEARCH_SIZE_DEFAULT
        total, runs = schedule_execution_search(
            query=query,
            sort=search.parse_sort(request.query_params.get("sort")),
            start=start,
            size=max(1, min(size, SEARCH_SIZE_MAX)),
        )
        return Response(
            {"totalHits": total, "results": [wire.execution_model(r) for r in runs]}
        )


class TestTimeoutView(ConductorView):
    """SchedulerResourceApi.test_timeout: answers at once."""

    method_permissions = {"GET": VIEW}

    def get(self, request: Request) -> Response:
        return _empty()


class NotFoundView(ConductorView):
    """Any other path under /api/scheduler/: 404 with Conductor's error body."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        raise exceptions.NotFound(f"No endpoint {request.method} {request.path}")


# --- tokens and workflows -------------------------------------------------------------
class TokenThrottle(AnonRateThrottle):
    """Guessing key secrets is pointless (256 bits); this caps the work anyway."""

    scope = "conductor_token"

    def get_rate(self) -> str:
        return str(settings.CONDUCTOR_TOKEN_RATE)


class TokenView(ConductorView):
    """POST /api/token {"keyId", "keySecret"} -> {"token"} for X-Authorization."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]  # the key in the body is the credential
    throttle_classes = [TokenThrottle]

    def post(self, request: Request) -> Response:
        body = wire.TokenRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        token = conductor_token_issue(
            key_id=body.validated_data["keyId"],
            key_secret=body.validated_data["keySecret"],
            now=timezone.now(),
        )
        if token is None:
            return Response(
                error_body(401, "Unknown, revoked or wrong key id or secret."),
                status=401,
            )
        return Response({"token": token})


class TextRenderer(BaseRenderer):
    """text/plain, which the SDK asks for here; error bodies stay JSON text."""

    media_type = "text/plain"
    format = "txt"

    def render(self, data: Any, *args: Any, **kwargs: Any) -> bytes:
        if isinstance(data, str):
            return data.encode()
        return JSONRenderer().render(data)


class StartWorkflowView(ConductorView):
    """POST /api/workflow StartWorkflowRequest: run the named service now.

    Answers the run id as text, as Conductor answers the workflow id.
    """

    method_permissions = {"POST": "schedules.run_schedule"}
    renderer_classes = [TextRenderer, JSONRenderer]

    def finalize_response(
        self, request: Request, response: Any, *args: Any, **kwargs: Any
    ) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        if isinstance(response, Response) and response.status_code >= 400:
            # Errors keep Conductor's JSON body whatever the client accepts.
            response.accepted_renderer = JSONRenderer()
            response.accepted_media_type = "application/json"
            response.content_type = None
        return response

    def post(self, request: Request) -> Response:
        body = wire.StartWorkflowRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if not service_exists(data["name"]):
            raise exceptions.NotFound(f"No such workflow found by name: {data['name']}")
        run = jobrun_enqueue(
            service=data["name"],
            trigger=JobRun.Trigger.API,
            input_override=data.get("input") or {},
            correlation_id=data.get("correlationId") or "",
            by=_acting(request),
            now=timezone.now(),
        )
        return Response(str(run.pk), content_type="text/plain")
