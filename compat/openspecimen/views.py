"""OpenSpecimen-compatible endpoints under /rest/ng: sessions and scheduled jobs.

One APIView per resource, each method one operation of the external API. They
translate shapes only and call the same services as the native API
(`schedules.services`, `jobruns.services.jobrun_enqueue`). Every answer that
is not an error is 200, as OpenSpecimen's controllers answer.

Not in our OpenAPI schema (`exclude=True`): the wire contract is
OpenSpecimen's, documented in specs/openspecimen.md, not ours to describe.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import authenticate
from django.db.models import Q, QuerySet
from django.db.models.functions import Coalesce
from django.http import FileResponse
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from compat.openspecimen import errors, mapping
from compat.openspecimen.authentication import (
    CachedBasicAuthentication,
    OsTokenAuthentication,
)
from compat.openspecimen.selectors import (
    os_may_download_result,
    os_may_read_run,
    os_runs_visible,
)
from compat.openspecimen.serializers import (
    LISTED_STATUSES,
    NAME_TAG,
    STATUSES_FOR,
    RunRequestIn,
    ScheduledJobIn,
    ScheduledJobOut,
    ScheduledJobRunOut,
    is_admin,
    job_name,
    recipient_ids,
    schedule_data,
    users_by_id,
)
from core.accounts import api_token_create, api_token_revoke, profile_get
from core.api.parsers import JSONParser
from core.api.throttling import AuthRateThrottle
from core.models import ApiToken
from core.permissions import HasActionPermission
from jobruns.models import JobRun
from jobruns.selectors import ResultFileMissing, jobrun_result_file
from jobruns.services import RunRefused, jobrun_enqueue
from schedules.models import Schedule
from schedules.services import schedule_create, schedule_delete, schedule_update

DEFAULT_MAX_RESULTS = 100  # OpenSpecimen's default for jobs and runs
# Our cap: one request must not serialise the whole history.
MAX_RESULTS_CAP = 1000
SESSION_HOURS_DEFAULT = 8
JOB_TYPES = ("INTERNAL", "EXTERNAL", "QUERY")


@extend_schema(exclude=True)
class OsView(APIView):
    """OpenSpecimen's auth (session token or Basic), JSON, and error shape."""

    authentication_classes = [OsTokenAuthentication, CachedBasicAuthentication]
    permission_classes = [HasActionPermission]
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]

    def get_exception_handler(self) -> Any:
        return errors.exception_handler

    def check_permissions(self, request: Request) -> None:
        # An unsupported method is a 405, not a permission refusal (the
        # permission table has no entry for it).
        if getattr(self, (request.method or "").lower(), None) is None:
            self.http_method_not_allowed(request)
        super().check_permissions(request)


# --- sessions -----------------------------------------------------------------------
@extend_schema(exclude=True)
class SessionsView(OsView):
    """POST signs in (a token with an expiry); DELETE signs out (revokes it)."""

    def get_authenticators(self) -> list[Any]:
        # Signing in must work even when the client still sends a dead token.
        if self.request is not None and self.request.method == "POST":
            return []
        return super().get_authenticators()

    def get_permissions(self) -> list[BasePermission]:
        if self.request.method == "POST":
            return [AllowAny()]
        return [IsAuthenticated()]

    def get_throttles(self) -> list[BaseThrottle]:
        return [AuthRateThrottle()] if self.request.method == "POST" else []

    def post(self, request: Request) -> Response:
        body = request.data if isinstance(request.data, dict) else {}
        login, password = body.get("loginName"), body.get("password")
        domain = body.get("domainName") or "openspecimen"
        if not isinstance(login, str) or not isinstance(password, str):
            raise errors.OsError(
                errors.INVALID_REQUEST, "loginName and password are required."
            )
        user = authenticate(request._request, username=login, password=password)
        if user is None or domain != "openspecimen":
            raise errors.OsError(
                errors.INVALID_CREDENTIALS,
                "Invalid login name or password.",
                status_code=401,
            )
        now = timezone.now()
        _, raw = api_token_create(
            user=user, name="OpenSpecimen session", expires_at=now + _session_length()
        )
        return Response(
            {
                "id": user.pk,
                "firstName": user.first_name,
                "lastName": user.last_name,
                "loginName": user.get_username(),
                "token": raw,
                "admin": is_admin(user),
                "instituteAdmin": False,
            }
        )

    def delete(self, request: Request) -> Response:
        if isinstance(request.auth, ApiToken):
            api_token_revoke(token=request.auth, now=timezone.now())
        return Response({"Status": "Success"})


def _session_length() -> timedelta:
    hours = getattr(settings, "OPENSPECIMEN_SESSION_HOURS", SESSION_HOURS_DEFAULT)
    return timedelta(hours=hours)


# --- jobs ---------------------------------------------------------------------------
@extend_schema(exclude=True)
class JobsView(OsView):
    method_permissions = {
        "GET": "schedules.view_schedule",
        "POST": "schedules.add_schedule",
    }

    def get(self, request: Request) -> Response:
        start, limit = _paging(request)
        jobs = (
            _jobs_matching(request)
            .select_related("created_by")
            .prefetch_related("tags")
            .order_by("-pk")
        )
        return Response(_jobs_out(list(jobs[start : start + limit])))

    def post(self, request: Request) -> Response:
        attrs = _job_input(request)
        now = timezone.now()
        data = schedule_data(attrs, zone=_zone(request), now=now)
        schedule = schedule_create(data=data, by=request.user, now=now, allow_past=True)
        return Response(_jobs_out([_job(schedule.pk)])[0])


@extend_schema(exclude=True)
class JobCountView(OsView):
    method_permissions = {"GET": "schedules.view_schedule"}

    def get(self, request: Request) -> Response:
        return Response({"count": _jobs_matching(request).count()})


@extend_schema(exclude=True)
class JobView(OsView):
    method_permissions = {
        "GET": "schedules.view_schedule",
        "PUT": "schedules.change_schedule",
        "DELETE": "schedules.delete_schedule",
    }

    def get(self, request: Request, job_id: str) -> Response:
        return Response(_jobs_out([_job(_id(job_id, "id"))])[0])

    def put(self, request: Request, job_id: str) -> Response:
        existing = _job(_id(job_id, "id"))
        attrs = _job_input(request)
        now = timezone.now()
        data = schedule_data(attrs, zone=_zone(request), now=now, existing=existing)
        # Past end dates are allowed, as in OpenSpecimen: the job is inactive.
        schedule_update(
            schedule=existing, data=data, by=request.user, now=now, allow_past=True
        )
        return Response(_jobs_out([_job(existing.pk)])[0])

    def delete(self, request: Request, job_id: str) -> Response:
        # OpenSpecimen disables the row; we delete it and keep its runs (their
        # schedule link is set null, the name stays on each run).
        schedule = _job(_id(job_id, "id"))
        detail = _jobs_out([schedule], activity_status="Disabled")[0]
        schedule_delete(schedule=schedule, by=request.user)
        return Response(detail)


def _job_input(request: Request) -> dict[str, Any]:
    if not isinstance(request.data, dict):
        raise errors.OsError(
            errors.INVALID_REQUEST, "The body must be a ScheduledJobDetail object."
        )
    serializer = ScheduledJobIn(
        data=request.data, context={"zone": _zone_info(request)}
    )
    if not serializer.is_valid():
        raise errors.OsError(errors.INVALID_REQUEST, _first_error(serializer.errors))
    return dict(serializer.validated_data)


def _first_error(detail: Any, path: str = "") -> str:
    if isinstance(detail, dict):
        key, value = next(iter(detail.items()))
        return _first_error(value, f"{path}.{key}" if path else str(key))
    if isinstance(detail, list) and detail:
        return _first_error(detail[0], path)
    return f"{path}: {detail}" if path else str(detail)


def _jobs_matching(request: Request) -> QuerySet[Schedule]:
    """OpenSpecimen's `query` (name, case-insensitive) and `type` filters."""
    jobs = Schedule.objects.all()
    kind = request.query_params.get("type")
    if kind is not None and kind not in JOB_TYPES:
        raise errors.OsError(
            errors.INVALID_REQUEST, 'The parameter "type" has an invalid value.'
        )
    if kind in ("EXTERNAL", "QUERY"):
        return jobs.none()  # every job here runs one of our services: INTERNAL
    query = (request.query_params.get("query") or "").strip()
    if query:
        named = Q(tags__key=NAME_TAG, tags__value__icontains=query)
        jobs = jobs.filter(Q(name__icontains=query) | named).distinct()
    return jobs


def _job(pk: int) -> Schedule:
    schedule = (
        Schedule.objects.select_related("created_by")
        .prefetch_related("tags")
        .filter(pk=pk)
        .first()
    )
    if schedule is None:
        raise errors.job_error("NOT_FOUND", f"Scheduled job {pk} does not exist.")
    return schedule


def _jobs_out(jobs: list[Schedule], **context: Any) -> list[dict[str, Any]]:
    """Jobs read with created_by and tags (see `_job`) as ScheduledJobDetails."""
    users = users_by_id(pk for job in jobs for pk in recipient_ids(job))
    serializer = ScheduledJobOut(
        jobs, many=True, context={"now": timezone.now(), "users": users, **context}
    )
    return list(serializer.data)


# --- runs ---------------------------------------------------------------------------
@extend_schema(exclude=True)
class JobRunsView(OsView):
    method_permissions = {
        "GET": "jobruns.view_jobrun",
        "POST": "schedules.run_schedule",
    }

    def get(self, request: Request, job_id: str) -> Response:
        job = _job(_id(job_id, "jobId"))
        start, limit = _paging(request)
        runs = _runs_matching(request, job).order_by("-pk")[start : start + limit]
        return Response(_runs_out(list(runs), job))

    def post(self, request: Request, job_id: str) -> Response:
        job = _job(_id(job_id, "jobId"))
        body = request.data if request.data is not None else {}
        serializer = RunRequestIn(data=body)
        if not isinstance(body, dict) or not serializer.is_valid():
            raise errors.OsError(
                errors.INVALID_REQUEST, 'The body must be {"args": "<args>"}.'
            )
        try:
            jobrun_enqueue(
                schedule=job,
                trigger=JobRun.Trigger.API,
                args=serializer.validated_data["arg_list"],
                by=_user(request),
                now=timezone.now(),
            )
        except RunRefused as refused:
            raise errors.OsError(errors.RUN_IN_PROGRESS, refused.messages[0]) from None
        return Response(_jobs_out([job])[0])


@extend_schema(exclude=True)
class JobRunView(OsView):
    method_permissions = {"GET": "jobruns.view_jobrun"}

    def get(self, request: Request, job_id: str, run_id: str) -> Response:
        run = _run(request, job_id, run_id)
        if not os_may_read_run(user=request.user, run=run):
            raise errors.job_error(
                "OP_NOT_ALLOWED", "You may only read runs you started."
            )
        return Response(_runs_out([run], run.schedule)[0])


@extend_schema(exclude=True)
class RunResultFileView(OsView):
    method_permissions = {"GET": "jobruns.view_jobrun"}

    def get(self, request: Request, job_id: str, run_id: str) -> Any:
        run = _run(request, job_id, run_id)
        if not os_may_download_result(user=request.user, run=run):
            raise errors.job_error(
                "OP_NOT_ALLOWED",
                "Only an admin, the user who started the run or a recipient of "
                "the job may download its result file.",
            )
        try:
            found = jobrun_result_file(run=run)
        except ResultFileMissing as missing:
            if missing.gone:
                raise errors.job_error(
                    "RESULT_DATA_FILE_NOT_FOUND",
                    f"The result file of run {run.pk} is no longer there.",
                ) from None
            raise errors.job_error(
                "RESULT_DATA_FILE_NOT_AVAILABLE", f"Run {run.pk} has no result file."
            ) from None
        return FileResponse(
            found.handle,
            as_attachment=True,
            filename=found.filename,
            content_type=found.content_type,
        )


def _run(request: Request, job_id: str, run_id: str) -> JobRun:
    # OpenSpecimen looks a run up by its id alone; we also insist it belongs to
    # the job in the path, so /scheduled-jobs/1/runs/<a run of job 2> is a 400.
    run = (
        JobRun.objects.select_related("schedule", "triggered_by")
        .prefetch_related("schedule__tags")
        .filter(
            pk=_id(run_id, "runId"),
            schedule_id=_id(job_id, "jobId"),
            status__in=LISTED_STATUSES,
        )
        .first()
    )
    if run is None:
        raise errors.job_error("JOB_RUN_NOT_FOUND", f"Job run {run_id} does not exist.")
    return run


def _runs_matching(request: Request, job: Schedule) -> QuerySet[JobRun]:
    """Visibility, then `fromDate`, `toDate` and `status` as OpenSpecimen reads them."""
    runs = os_runs_visible(user=_user(request), job=job)
    params = request.query_params
    zone = _zone_info(request)
    if params.get("fromDate"):
        since = _date_param(params["fromDate"], "fromDate", zone)
        runs = runs.alias(started=Coalesce("started_at", "queued_at")).filter(
            started__gte=since
        )
    if params.get("toDate"):
        # finishedAt <= toDate: runs still in progress drop out, as there.
        runs = runs.filter(
            finished_at__lte=_date_param(params["toDate"], "toDate", zone)
        )
    status = params.get("status")
    if status:
        if status not in STATUSES_FOR:
            raise errors.OsError(
                errors.INVALID_REQUEST,
                'The parameter "status" has an invalid value; use IN_PROGRESS, '
                "SUCCEEDED or FAILED.",
            )
        runs = runs.filter(status__in=STATUSES_FOR[status])
    return runs.select_related("triggered_by")


def _runs_out(runs: list[JobRun], job: Schedule | None) -> list[dict[str, Any]]:
    context = {"job_name": job_name(job) if job is not None else None}
    return list(ScheduledJobRunOut(runs, many=True, context=context).data)


# --- parameters ---------------------------------------------------------------------
# Java's Long and Integer: a larger number does not parse there either.
LONG_MAX, INT_MAX = 2**63 - 1, 2**31 - 1


def _id(raw: str, name: str) -> int:
    if not raw.isdigit() or int(raw) > LONG_MAX:
        raise errors.OsError(
            errors.INVALID_REQUEST, f'The parameter "{name}" must be an integer.'
        )
    return int(raw)


def _paging(request: Request) -> tuple[int, int]:
    start = _int_param(request, "startAt", 0)
    limit = _int_param(request, "maxResults", DEFAULT_MAX_RESULTS)
    return start, min(limit, MAX_RESULTS_CAP)


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) > INT_MAX:
        raise errors.OsError(
            errors.INVALID_REQUEST,
            f'The parameter "{name}" must be a whole number from 0 to {INT_MAX}.',
        )
    return int(raw)


def _date_param(raw: str, name: str, zone: ZoneInfo) -> datetime:
    try:
        return mapping.parse_date(raw, zone)
    except ValueError:
        raise errors.OsError(
            errors.INVALID_REQUEST,
            f'The parameter "{name}" has an invalid value {raw!r}: use yyyyMMdd, '
            "yyyyMMdd'T'HHmmss, yyyy-MM-dd HH:mm or ISO 8601 "
            "(yyyy-MM-dd'T'HH:mm:ss.SSSX).",
        ) from None


def _zone(request: Request) -> str:
    """The requesting user's zone: zone-less dates are read in it."""
    return profile_get(user=_user(request)).time_zone


def _user(request: Request) -> Any:
    """The signed-in user (the permission classes let no anonymous call through)."""
    return request.user


def _zone_info(request: Request) -> ZoneInfo:
    return ZoneInfo(_zone(request))
