"""Shapes of the runs and services API. Types only: every rule lives in services."""

from __future__ import annotations

import os
from typing import Any

from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers
from rest_framework.reverse import reverse

from jobruns.models import JobRun

_RUN_EXAMPLE = {
    "id": 42,
    "schedule": "nightly-report",
    "service": "core.echo",
    "trigger": "api",
    "status": "succeeded",
    "skip_reason": "",
    "skipped_count": 0,
    "attempt": 1,
    "retry_of": None,
    "triggered_by": "api:edda-editor",
    "correlation_id": "",
    "scheduled_for": None,
    "queued_at": "2030-01-07T12:00:00Z",
    "started_at": "2030-01-07T12:00:01Z",
    "finished_at": "2030-01-07T12:00:02Z",
    "duration_seconds": 1.0,
    "worker": "worker-1@host",
    "error": "",
    "result_file_name": "result.csv",
    "links": {
        "self": "https://scheduler.example/api/v1/runs/42/",
        "log": "https://scheduler.example/api/v1/runs/42/log/",
        "result_file": "https://scheduler.example/api/v1/runs/42/result-file/",
    },
}

# What run-now answers with 202: queued, nothing run yet.
_QUEUED_RUN_EXAMPLE = {
    **_RUN_EXAMPLE,
    "id": 43,
    "status": "queued",
    "queued_at": "2030-01-07T12:05:00Z",
    "started_at": None,
    "finished_at": None,
    "duration_seconds": None,
    "worker": "",
    "result_file_name": None,
    "links": {
        "self": "https://scheduler.example/api/v1/runs/43/",
        "log": "https://scheduler.example/api/v1/runs/43/log/",
        "result_file": None,
    },
    "args": ["2030-01"],
    "input": {"month": "2030-01"},
    "extra": "",
    "output": None,
    "traceback": "",
}


class RunLinksSerializer(serializers.Serializer):
    self = serializers.URLField()
    log = serializers.URLField()
    result_file = serializers.URLField(allow_null=True)


@extend_schema_serializer(
    examples=[OpenApiExample("A finished run", value=_RUN_EXAMPLE, response_only=True)]
)
class JobRunSerializer(serializers.ModelSerializer):
    schedule = serializers.CharField(
        source="schedule_name", help_text="Name of the schedule, kept after deletion."
    )
    triggered_by = serializers.CharField(source="triggered_by_label")
    # Declared: DRF drops allow_blank from read-only model fields, and "" is the
    # reason of every run that was not skipped.
    skip_reason = serializers.ChoiceField(
        choices=JobRun.SkipReason.choices, allow_blank=True, read_only=True
    )
    retry_of = serializers.PrimaryKeyRelatedField[Any](read_only=True, allow_null=True)
    duration_seconds = serializers.FloatField(allow_null=True)
    result_file_name = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()

    class Meta:
        model = JobRun
        fields = [
            "id", "schedule", "service", "trigger", "status", "skip_reason",
            "skipped_count", "attempt", "retry_of", "triggered_by",
            "correlation_id", "scheduled_for", "queued_at", "started_at",
            "finished_at", "duration_seconds", "worker", "error",
            "result_file_name", "links",
        ]  # fmt: skip
        read_only_fields = fields

    def get_result_file_name(self, run: JobRun) -> str | None:
        return os.path.basename(run.result_file.name) if run.result_file else None

    @extend_schema_field(RunLinksSerializer)
    def get_links(self, run: JobRun) -> dict[str, str | None]:
        request = self.context.get("request")

        def url(name: str) -> str:
            return reverse(name, args=[run.pk], request=request)

        return {
            "self": url("jobrun-detail"),
            "log": url("jobrun-log"),
            "result_file": url("jobrun-result-file") if run.result_file else None,
        }


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A finished run with its request and outcome",
            value={
                **_RUN_EXAMPLE,
                "args": ["2030-01"],
                "input": {"month": "2030-01"},
                "extra": "",
                "output": {"rows": 12},
                "traceback": "",
            },
            response_only=True,
        ),
        OpenApiExample(
            "Queued by run-now or retry",
            value=_QUEUED_RUN_EXAMPLE,
            status_codes=["202"],
            response_only=True,
        ),
    ]
)
class JobRunDetailSerializer(JobRunSerializer):
    args = serializers.ListField(child=serializers.CharField())
    input = serializers.DictField()
    output = serializers.JSONField(allow_null=True)

    class Meta(JobRunSerializer.Meta):
        fields = [
            *JobRunSerializer.Meta.fields,
            "args", "input", "extra", "output", "traceback",
        ]  # fmt: skip
        read_only_fields = fields


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Run with arguments and another input",
            value={"args": ["2030-01"], "input": {"seconds": 2}},
            request_only=True,
        )
    ]
)
class RunNowSerializer(serializers.Serializer):
    args = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        default=list,
        help_text="Strings handed to the service as its args.",
    )
    input = serializers.DictField(
        required=False,
        help_text="Replaces the schedule's input for this run only.",
    )


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Run the sync service and wait up to 30 s",
            value={
                "input": {
                    "rest": "My Data Source",
                    "path": "/orders/new",
                    "redis": "cache",
                    "key": "orders:new",
                    "smtp": "My SMTP",
                    "to": ["ops@example.com"],
                    "cc": ["audit@example.com"],
                    "subject": "New orders",
                },
                "extra": "",
                "args": [],
                "wait_seconds": 30,
            },
            request_only=True,
        )
    ]
)
class InvokeSerializer(serializers.Serializer):
    input = serializers.DictField(
        required=False,
        default=dict,
        help_text="The service's input; checked against its input schema.",
    )
    extra = serializers.CharField(
        required=False,
        default="",
        allow_blank=True,
        trim_whitespace=False,
        help_text="Raw text handed over unchanged (raw_request).",
    )
    args = serializers.ListField(
        child=serializers.CharField(), required=False, default=list
    )
    wait_seconds = serializers.FloatField(
        required=False,
        default=0,
        min_value=0,
        max_value=60,
        help_text="How long to wait for the run to end (0 to 60): ended → 200, "
        "else 202 and Location.",
    )


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A run's log",
            value={
                "id": 42,
                "status": "succeeded",
                "log": "12:00:01 INFO echo with 1 args",
            },
            response_only=True,
        )
    ]
)
class RunLogSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=JobRun.Status.choices)
    log = serializers.CharField(
        allow_blank=True, help_text="Capped at JOBRUN_LOG_MAX_BYTES."
    )


class ServiceFieldSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.CharField(allow_blank=True)
    required = serializers.BooleanField()  # type: ignore[assignment]  # wire name; DRF lifts fields off the class
    description = serializers.CharField(allow_blank=True)


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A service",
            value={
                "name": "core.sleep",
                "description": "Sleeps for `seconds` (default 1).",
                "input_schema": {
                    "type": "object",
                    "properties": {"seconds": {"type": "number", "minimum": 0}},
                },
                "fields": [
                    {
                        "name": "seconds",
                        "type": "number",
                        "required": False,
                        "description": "",
                    }
                ],
            },
            response_only=True,
        )
    ]
)
class ServiceSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    input_schema = serializers.DictField(
        allow_null=True,
        help_text="JSON Schema of the run input, if the service has one.",
    )
    fields = ServiceFieldSerializer(  # type: ignore[assignment]  # wire name; DRF lifts fields off the class
        many=True, help_text="The schema's top-level fields."
    )
