"""ScheduledJobDetail and ScheduledJobRunDetail, as OpenSpecimen writes them.

Field names, enums and null-versus-missing follow the external spec, not our
models. Fields OpenSpecimen has and we do not keep are written as null or [].

What has no column of its own is kept in tags (key prefix ``openspecimen.``),
so a job survives the round trip: the display name when it is not a valid
schedule name (OpenSpecimen names have spaces, ours do not), whether run-time
args are asked for, and the recipients (who may also read result files).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from rest_framework import serializers

from compat.openspecimen import errors, mapping
from jobruns.models import JobRun
from jobruns.registry import service_exists
from schedules.models import Schedule

TAG_PREFIX = "openspecimen."
NAME_TAG = TAG_PREFIX + "name"
RT_ARGS_TAG = TAG_PREFIX + "rtArgsProvided"
RECIPIENTS_TAG = TAG_PREFIX + "recipients"
DOMAIN = "openspecimen"
_NAME_MAX = Schedule._meta.get_field("name").max_length or 200

# Our run states as OpenSpecimen's three (specs/README): queued and running are
# IN_PROGRESS; every unsuccessful end is FAILED. Skipped fires are not listed at
# all: OpenSpecimen drops a trigger it cannot run without writing a run row.
STATUS_FROM_OURS = {
    JobRun.Status.QUEUED: "IN_PROGRESS",
    JobRun.Status.IN_PROGRESS: "IN_PROGRESS",
    JobRun.Status.SUCCEEDED: "SUCCEEDED",
    JobRun.Status.FAILED: "FAILED",
    JobRun.Status.TIMED_OUT: "FAILED",
    JobRun.Status.CANCELLED: "FAILED",
}
STATUSES_FOR = {
    "IN_PROGRESS": [JobRun.Status.QUEUED, JobRun.Status.IN_PROGRESS],
    "SUCCEEDED": [JobRun.Status.SUCCEEDED],
    "FAILED": [JobRun.Status.FAILED, JobRun.Status.TIMED_OUT, JobRun.Status.CANCELLED],
}
LISTED_STATUSES = list(STATUS_FROM_OURS)


def schedule_name_for(display: str) -> str:
    """Our schedule name for an OpenSpecimen job name (spaces and the like -> '-')."""
    return re.sub(r"[^A-Za-z0-9_.\-]+", "-", display.strip()).strip("-") or "job"


def is_admin(user: Any) -> bool:
    """OpenSpecimen's "admin" (sees every run, reads every result file)."""
    return bool(getattr(user, "is_superuser", False))


def user_summary(user: Any) -> dict[str, Any] | None:
    """OpenSpecimen's UserSummary; empty fields are left out (NON_NULL)."""
    if user is None:
        return None
    summary = {
        "id": user.pk,
        "firstName": user.first_name,
        "lastName": user.last_name,
        "loginName": user.get_username(),
        "domain": DOMAIN,
        "emailAddress": user.email,
        "admin": is_admin(user),
    }
    return {key: value for key, value in summary.items() if value not in (None, "")}


# --- input --------------------------------------------------------------------------
class OsDateField(serializers.Field):
    """Epoch ms, ISO 8601, or a zone-less form read in the requesting user's zone."""

    def to_internal_value(self, data: Any) -> datetime:
        try:
            return mapping.parse_date(data, self.context["zone"])
        except ValueError:
            raise serializers.ValidationError(
                f"{data!r} is not a date: send epoch milliseconds or ISO 8601 "
                "with an offset, e.g. 2017-02-20T07:00:00.000Z"
            ) from None

    def to_representation(self, value: datetime) -> int | None:
        return mapping.to_millis(value)


class UserRefField(serializers.Field):
    """``{"id": n}`` (a UserSummary); only the id is read."""

    def to_internal_value(self, data: Any) -> int:
        if not isinstance(data, Mapping):
            raise serializers.ValidationError('a user is {"id": <number>}')
        user_id = data.get("id")
        if (
            isinstance(user_id, bool)
            or not isinstance(user_id, int)
            or not 0 < user_id < 2**63
        ):
            raise errors.job_error(
                "INVALID_RECIPIENT", f"Invalid recipient {data!r}: it needs an id."
            )
        return user_id


class ScheduledJobIn(serializers.Serializer):
    """A ScheduledJobDetail sent to create or update a job; unknown keys ignored
    (clients send back what they read: id, createdBy, nextRunOn ...)."""

    name = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    type = serializers.ChoiceField(
        ["INTERNAL", "EXTERNAL", "QUERY"], required=False, allow_null=True
    )
    repeatSchedule = serializers.CharField(
        required=False, allow_null=True, allow_blank=True
    )
    startDate = OsDateField(required=False, allow_null=True)
    endDate = OsDateField(required=False, allow_null=True)
    scheduledMinute = serializers.IntegerField(required=False, allow_null=True)
    scheduledHour = serializers.IntegerField(required=False, allow_null=True)
    scheduledDayOfWeek = serializers.CharField(required=False, allow_null=True)
    scheduledDayOfMonth = serializers.IntegerField(required=False, allow_null=True)
    hourlyInterval = serializers.IntegerField(required=False, allow_null=True)
    minutelyInterval = serializers.IntegerField(required=False, allow_null=True)
    taskImplFqn = serializers.CharField(
        required=False, allow_null=True, allow_blank=True
    )
    fixedArgs = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, trim_whitespace=False
    )
    savedQuery = serializers.DictField(required=False, allow_null=True)
    activityStatus = serializers.ChoiceField(
        ["Active", "Disabled"], required=False, allow_null=True
    )
    recipients = serializers.ListField(
        child=UserRefField(), required=False, allow_null=True
    )
    rtArgsProvided = serializers.BooleanField(required=False, allow_null=True)
    rtArgsHelpText = serializers.CharField(
        required=False, allow_null=True, allow_blank=True
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """OpenSpecimen's own order of checks, each with its error code."""
        name = (attrs.get("name") or "").strip()
        if not name:
            raise errors.job_error("NAME_REQUIRED", "Job name is required.")
        if len(name) > _NAME_MAX:
            raise errors.OsError(
                errors.INVALID_REQUEST,
                f"Job name is longer than {_NAME_MAX} characters.",
            )
        attrs["name"] = name
        try:
            attrs["repeat"] = mapping.repeat_from_detail(attrs)
        except mapping.MappingError as error:
            raise errors.job_error(error.code, error.message) from None
        _check_dates(attrs)
        _check_type(attrs)
        attrs["recipient_ids"] = _checked_recipients(attrs.get("recipients") or [])
        return attrs


def _check_dates(attrs: dict[str, Any]) -> None:
    start, end = attrs.get("startDate"), attrs.get("endDate")
    if start is not None and end is not None and end < start:
        raise errors.job_error(
            "END_DATE_BEFORE_START_DATE", "End date cannot be before start date."
        )


def _check_type(attrs: dict[str, Any]) -> None:
    kind = attrs.get("type")
    if kind is None:
        raise errors.job_error("INVALID_TYPE", "Job type is required (INTERNAL).")
    if kind == "EXTERNAL":
        raise errors.job_error(
            "EXT_TASK_FORBIDDEN", "External command jobs cannot be created via API."
        )
    if kind == "QUERY":
        query = attrs.get("savedQuery") or {}
        if not query.get("id"):
            raise errors.job_error("QUERY_REQ", "A query job needs savedQuery.id.")
        raise errors.job_error(
            "INVALID_TYPE", "Query jobs are not supported here: there are no saved "
            "queries; use an INTERNAL job with a service as taskImplFqn.",
        )  # fmt: skip
    target = (attrs.get("taskImplFqn") or "").strip()
    if not target:
        raise errors.job_error(
            "TASK_IMPL_FQN_REQUIRED", "Task implementation (taskImplFqn) is required."
        )
    if not service_exists(target):
        raise errors.job_error(
            "INVALID_TASK_IMPL_FQN",
            f"No service is registered as {target!r}; taskImplFqn names the "
            "service to run, e.g. 'core.echo'.",
        )
    attrs["taskImplFqn"] = target


def _checked_recipients(ids: list[int]) -> list[int]:
    wanted = list(dict.fromkeys(ids))
    found = set(
        get_user_model()
        .objects.filter(pk__in=wanted, is_active=True)
        .values_list("pk", flat=True)
    )
    missing = [user_id for user_id in wanted if user_id not in found]
    if missing:
        raise errors.job_error(
            "INVALID_RECIPIENT",
            f"Invalid recipient: no active user with id {missing[0]}.",
        )
    return wanted


def schedule_data(
    attrs: Mapping[str, Any],
    *,
    zone: str,
    now: datetime,
    existing: Schedule | None = None,
) -> dict[str, Any]:
    """The definition our schedule services take for a validated job."""
    repeat: mapping.Repeat = attrs["repeat"]
    start = attrs.get("startDate")
    if start is None:
        # OpenSpecimen: startDate defaults to now; an update without one keeps it.
        start = existing.start_at if existing is not None else now
    # An ONDEMAND job never fires, so its end date means nothing in OpenSpecimen
    # either; ours would fall before the far run_at and be refused.
    end = None if repeat.schedule == "ONDEMAND" else attrs.get("endDate")
    data: dict[str, Any] = {
        "name": schedule_name_for(attrs["name"]),
        "description": attrs.get("rtArgsHelpText") or "",
        "time_zone": existing.time_zone if existing is not None else zone,
        "start_at": start,
        "end_at": end,
        "target": attrs["taskImplFqn"],
        "extra": attrs.get("fixedArgs") or "",
        **mapping.timing_fields(repeat),
    }
    if existing is None:
        # OpenSpecimen runs a job once at a time; a request while one runs is
        # refused with a 400 (specs/README), which is the "skip" policy.
        data["overlap_policy"] = Schedule.OverlapPolicy.SKIP
    status = attrs.get("activityStatus")
    if status is not None:
        # A paused schedule reads as "Disabled", so echoing a job back keeps
        # its pause (and a pause reason given elsewhere).
        data["is_paused"] = status == "Disabled"
        if data["is_paused"] and (existing is None or not existing.is_paused):
            data["paused_reason"] = "disabled through the OpenSpecimen API"
    data["tags"] = _tags(attrs, existing)
    return data


def _tags(attrs: Mapping[str, Any], existing: Schedule | None) -> dict[str, str]:
    """Our own tags replaced, every other tag of the schedule kept."""
    tags = {
        tag.key: tag.value
        for tag in (existing.tags.all() if existing is not None else [])
        if not tag.key.startswith(TAG_PREFIX)
    }
    if schedule_name_for(attrs["name"]) != attrs["name"]:
        tags[NAME_TAG] = attrs["name"]
    if attrs.get("rtArgsProvided"):
        tags[RT_ARGS_TAG] = "true"
    if attrs["recipient_ids"]:
        tags[RECIPIENTS_TAG] = ",".join(map(str, attrs["recipient_ids"]))
    return tags


class RunRequestIn(serializers.Serializer):
    """``{"args": "a b c"}``: run-time args, separated by white space."""

    args = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, trim_whitespace=False
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs["arg_list"] = (attrs.get("args") or "").split()
        return attrs


# --- output -------------------------------------------------------------------------
def job_tags(schedule: Schedule) -> dict[str, str]:
    """Our tags of a schedule (prefetched with ``tags`` where lists are read)."""
    return {
        tag.key: tag.value
        for tag in schedule.tags.all()
        if tag.key.startswith(TAG_PREFIX)
    }


def recipient_ids(schedule: Schedule) -> list[int]:
    raw = job_tags(schedule).get(RECIPIENTS_TAG, "")
    return [int(part) for part in raw.split(",") if part.strip().isdigit()]


def job_name(schedule: Schedule) -> str:
    return job_tags(schedule).get(NAME_TAG) or schedule.name


def users_by_id(ids: Iterable[int]) -> dict[int, Any]:
    wanted = set(ids)
    if not wanted:
        return {}
    return {user.pk: user for user in get_user_model().objects.filter(pk__in=wanted)}


class ScheduledJobOut(serializers.BaseSerializer):
    """A Schedule as OpenSpecimen's ScheduledJobDetail.

    Context: ``now``, and ``users`` (id -> user) holding every recipient, so a
    list costs one query for them all.
    """

    def to_representation(self, schedule: Schedule) -> dict[str, Any]:
        repeat = mapping.repeat_from_schedule(
            kind=schedule.kind,
            run_at=schedule.run_at,
            cron_expression=schedule.cron_expression,
            interval=schedule.interval,
            repeats=schedule.repeats,
        )
        ondemand = repeat.schedule == "ONDEMAND"
        users = self.context.get("users", {})
        return {
            "id": schedule.pk,
            "name": job_name(schedule),
            "createdBy": user_summary(schedule.created_by),
            "startDate": mapping.to_millis(schedule.start_at or schedule.created_at),
            "endDate": mapping.to_millis(schedule.end_at),
            **repeat.as_detail(),
            "repeatSchedule": repeat.schedule or None,
            "nextRunOn": None if ondemand else mapping.to_millis(schedule.next_run_at),
            "activityStatus": self.context.get("activity_status")
            or ("Disabled" if schedule.is_paused else "Active"),
            "type": "INTERNAL",
            "taskImplFqn": schedule.target,
            "command": None,
            "fixedArgs": schedule.extra or None,
            "savedQuery": None,
            "runAs": None,
            "recipients": [
                user_summary(users[pk]) for pk in recipient_ids(schedule) if pk in users
            ],
            "sharedWith": [],
            "isActiveJob": _is_active(schedule, ondemand, self.context["now"]),
            "lastRunOn": mapping.to_millis(schedule.last_run_at),
            "rtArgsProvided": job_tags(schedule).get(RT_ARGS_TAG) == "true",
            "rtArgsHelpText": schedule.description or None,
        }


def _is_active(schedule: Schedule, ondemand: bool, now: datetime) -> bool:
    """OpenSpecimen's isActiveJob: active, and ONDEMAND or now within the dates."""
    if schedule.is_paused:
        return False
    if ondemand:
        return True
    started = schedule.start_at is None or schedule.start_at <= now
    return started and (schedule.end_at is None or now <= schedule.end_at)


class ScheduledJobRunOut(serializers.BaseSerializer):
    """A JobRun as OpenSpecimen's ScheduledJobRunDetail (context: ``job_name``)."""

    def to_representation(self, run: JobRun) -> dict[str, Any]:
        status = STATUS_FROM_OURS.get(run.status, "FAILED")  # type: ignore[call-overload]
        return {
            "id": run.pk,
            "jobId": run.schedule_id,
            "jobName": self.context.get("job_name") or run.schedule_name,
            # Our run row exists from the moment it is queued; until a worker
            # starts it, the queueing time is the closest "started" we have.
            "startedAt": mapping.to_millis(run.started_at or run.queued_at),
            "finishedAt": mapping.to_millis(run.finished_at),
            "status": status,
            "logFilePath": run.result_file.name or None,
            "message": (run.error or None) if status == "FAILED" else None,
            "runBy": user_summary(run.triggered_by),
            "rtArgs": " ".join(run.args) if run.args else None,
        }
