"""Conductor's JSON models (camelCase on the wire) as SDK 2.0.0 sends and reads them.

Input serializers check types only; defaults Conductor applies server-side
(`paused=false`, `runCatchupScheduleInstances=false`, `zoneId="UTC"`) are
applied here because the SDK omits every key whose value is None. Unknown keys
are ignored, as Conductor's `FAIL_ON_UNKNOWN_PROPERTIES=false` does.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from compat.conductor.services import MS_MAX, from_ms, to_ms
from jobruns.models import JobRun
from schedules.models import Schedule

# startWorkflowRequest keys we keep for clients to read back but do not act on.
KEPT_REQUEST_KEYS = (
    "version",
    "taskToDomain",
    "workflowDef",
    "externalInputPayloadStoragePath",
    "idempotencyKey",
    "idempotencyStrategy",
    "createdBy",
)
TAG_TYPES = ("METADATA", "RATE_LIMIT")


class StartWorkflowRequestSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    version = serializers.IntegerField(required=False, allow_null=True)
    correlationId = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, max_length=200
    )
    input = serializers.DictField(required=False, allow_null=True)
    taskToDomain = serializers.DictField(
        child=serializers.CharField(), required=False, allow_null=True
    )
    workflowDef = serializers.JSONField(required=False, allow_null=True)
    externalInputPayloadStoragePath = serializers.CharField(
        required=False, allow_null=True, allow_blank=True
    )
    priority = serializers.IntegerField(required=False, allow_null=True)
    createdBy = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    idempotencyKey = serializers.CharField(
        required=False, allow_null=True, allow_blank=True
    )
    idempotencyStrategy = serializers.CharField(
        required=False, allow_null=True, allow_blank=True
    )


class TagObjectSerializer(serializers.Serializer):
    key = serializers.CharField(max_length=100)
    type = serializers.ChoiceField(choices=TAG_TYPES, required=False, allow_null=True)
    value = serializers.JSONField(required=False, allow_null=True)


class SaveScheduleRequestSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    cronExpression = serializers.CharField(max_length=200)
    runCatchupScheduleInstances = serializers.BooleanField(
        default=False, allow_null=True
    )
    paused = serializers.BooleanField(default=False, allow_null=True)
    pausedReason = serializers.CharField(
        required=False, allow_null=True, allow_blank=True
    )
    startWorkflowRequest = StartWorkflowRequestSerializer()
    # Accepted and ignored: we record the authenticated user, who cannot be spoofed.
    createdBy = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    updatedBy = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    scheduleStartTime = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=MS_MAX
    )
    scheduleEndTime = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=MS_MAX
    )
    zoneId = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, max_length=64
    )
    description = serializers.CharField(
        required=False, allow_null=True, allow_blank=True
    )
    tags = TagObjectSerializer(many=True, required=False, allow_null=True)
    cronSchedules = serializers.ListField(
        child=serializers.DictField(), required=False, allow_null=True
    )

    def validate_cronSchedules(self, value: list[Any] | None) -> None:
        if value:
            raise serializers.ValidationError(
                "multi-cron schedules are not supported here; send one "
                "cronExpression with its zoneId"
            )


class TokenRequestSerializer(serializers.Serializer):
    keyId = serializers.CharField(max_length=200)
    keySecret = serializers.CharField(max_length=500)


# --- request -> our fields -----------------------------------------------------------
def _instant(ms: int | None) -> Any:
    # 0 is what an unset Java Long becomes in some clients: no bound.
    return from_ms(ms) if ms else None


def schedule_data(body: dict[str, Any], *, dialect: str) -> dict[str, Any]:
    """A validated SaveScheduleRequest as schedules.services data (replace: every
    field Conductor owns is set, so a key the client left out is reset)."""
    request = body["startWorkflowRequest"]
    data: dict[str, Any] = {
        "name": body["name"],
        "kind": Schedule.Kind.CRON,
        "cron_expression": body["cronExpression"],
        "cron_dialect": dialect,
        "time_zone": body.get("zoneId") or "UTC",
        "start_at": _instant(body.get("scheduleStartTime")),
        "end_at": _instant(body.get("scheduleEndTime")),
        "description": body.get("description") or "",
        "target": request["name"],
        "input": request.get("input") or {},
        "correlation_id": request.get("correlationId") or "",
        "priority": request.get("priority") or 0,
        "is_paused": bool(body.get("paused")),
        "paused_reason": body.get("pausedReason") or "",
    }
    if body.get("tags") is not None:
        data["tags"] = tag_items(body["tags"])
    return data


def kept_request_keys(request: dict[str, Any]) -> dict[str, Any]:
    return {
        key: request[key] for key in KEPT_REQUEST_KEYS if request.get(key) is not None
    }


def tag_items(tags: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"key": tag["key"], "value": tag.get("value")} for tag in tags]


# --- our rows -> responses ------------------------------------------------------------
def tag_objects(schedule: Schedule) -> list[dict[str, Any]]:
    return [
        {"key": tag.key, "type": "METADATA", "value": tag.value}
        for tag in schedule.tags.all()
    ]


def _username(user: Any) -> str:
    # Conductor's user id is "" when nobody is known (its no-auth mode).
    return user.get_username() if user is not None else ""


def _kept(schedule: Schedule) -> dict[str, Any]:
    try:
        return dict(schedule.conductor.start_request_extra)  # type: ignore[attr-defined]
    except Schedule.conductor.RelatedObjectDoesNotExist:  # type: ignore[attr-defined]
        return {}


def start_workflow_request(schedule: Schedule) -> dict[str, Any]:
    body: dict[str, Any] = {
        **_kept(schedule),
        "name": schedule.target,
        "input": schedule.input or {},
        "priority": schedule.priority,
    }
    if schedule.correlation_id:
        body["correlationId"] = schedule.correlation_id
    return body


def workflow_schedule(schedule: Schedule) -> dict[str, Any]:
    """Schedule -> WorkflowSchedule. Null fields are omitted, like Conductor's
    NON_NULL serialisation; booleans are always present."""
    body: dict[str, Any] = {
        "name": schedule.name,
        "runCatchupScheduleInstances": schedule.missed_policy
        == Schedule.MissedPolicy.RUN_ALL,
        "paused": schedule.is_paused,
        "startWorkflowRequest": start_workflow_request(schedule),
        "zoneId": schedule.time_zone,
        "createTime": to_ms(schedule.created_at),
        "updatedTime": to_ms(schedule.updated_at),
        "createdBy": _username(schedule.created_by),
        "updatedBy": _username(schedule.updated_by),
        "description": schedule.description,
        "tags": tag_objects(schedule),
        "cronSchedules": [],
    }
    optional = {
        # Interval and one-time schedules (made elsewhere) have no cron to show.
        "cronExpression": schedule.cron_expression or None,
        "pausedReason": schedule.paused_reason if schedule.is_paused else None,
        "scheduleStartTime": schedule.start_at and to_ms(schedule.start_at),
        "scheduleEndTime": schedule.end_at and to_ms(schedule.end_at),
        "nextRunTime": schedule.next_run_at and to_ms(schedule.next_run_at),
    }
    body.update({key: value for key, value in optional.items() if value is not None})
    return body


# Run status -> the three states the SDK accepts (any other value makes it drop
# the whole response): specs/README.md.
RUN_STATES = {
    JobRun.Status.QUEUED: "POLLED",
    JobRun.Status.IN_PROGRESS: "EXECUTED",
    JobRun.Status.SUCCEEDED: "EXECUTED",
    JobRun.Status.FAILED: "FAILED",
    JobRun.Status.TIMED_OUT: "FAILED",
    JobRun.Status.CANCELLED: "FAILED",
    # A fire that did not run (overlap, missed, outside the window) did not
    # start its workflow: FAILED, with the reason saying why.
    JobRun.Status.SKIPPED: "FAILED",
}
STATE_STATUSES = {
    state: [status for status, wire in RUN_STATES.items() if wire == state]
    for state in ("POLLED", "EXECUTED", "FAILED")
}
_REASON_MAX, _STACK_MAX = 999, 2000


def _reason(run: JobRun) -> str:
    if run.status == JobRun.Status.SKIPPED:
        label = JobRun.SkipReason(run.skip_reason).label if run.skip_reason else ""
        return f"skipped: {label or 'not run'}"
    return run.error or run.get_status_display()


def execution_model(run: JobRun) -> dict[str, Any]:
    """JobRun -> WorkflowScheduleExecutionModel (executionId = workflowId = run id)."""
    schedule = run.schedule
    request: dict[str, Any] = {
        "name": run.service,
        "input": run.input or {},
        "priority": schedule.priority if schedule is not None else 0,
    }
    if run.correlation_id:
        request["correlationId"] = run.correlation_id
    state = RUN_STATES[JobRun.Status(run.status)]
    body: dict[str, Any] = {
        "executionId": str(run.pk),
        "scheduleName": run.schedule_name,
        "scheduledTime": to_ms(run.scheduled_for or run.queued_at),
        "executionTime": to_ms(run.queued_at),
        "workflowName": run.service,
        "workflowId": str(run.pk),
        "startWorkflowRequest": request,
        "state": state,
        "zoneId": schedule.time_zone if schedule is not None else "UTC",
    }
    if state == "FAILED":
        body["reason"] = _reason(run)[:_REASON_MAX]
        if run.traceback:
            body["stackTrace"] = run.traceback[:_STACK_MAX]
    return body
