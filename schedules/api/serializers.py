"""Shapes of the schedules API. Types only: every rule lives in the services."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers

from schedules.models import MAX_RETRIES, Schedule


@extend_schema_field(OpenApiTypes.DATETIME)
class WallClockDateTimeField(serializers.Field):
    """ISO 8601; without an offset it is a wall-clock time in the schedule's zone.

    DRF's DateTimeField would read a naive value in the *request's* zone; the
    schedule's zone is only known to the service, so the naive value is kept.
    """

    default_error_messages = {
        "invalid": "Give an ISO 8601 date and time, e.g. 2026-03-29T02:30:00 "
        "(in the schedule's zone) or 2026-03-29T00:30:00Z."
    }

    def to_internal_value(self, data: Any) -> datetime | None:
        if data in (None, ""):
            return None
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            return datetime.fromisoformat(data.replace("Z", "+00:00"))
        except ValueError:
            self.fail("invalid")

    def to_representation(self, value: datetime) -> str:
        return value.isoformat()


_CHOICE = serializers.ChoiceField

# Examples: real bodies of our API (the schema test validates them against it).
CRON_WRITE_EXAMPLE = {
    "name": "nightly-report",
    "description": "Monthly figures for finance",
    "kind": "cron",
    "cron_expression": "0 30 2 * * *",
    "cron_dialect": "spring",
    "time_zone": "Europe/Berlin",
    "target": "core.echo",
    "input": {"month": "2030-01"},
    "tags": {"team": "finance"},
}
INTERVAL_WRITE_EXAMPLE = {
    "name": "sync-every-15-min",
    "kind": "interval",
    "interval_minutes": 15,
    "start_at": "2030-01-07T12:00:00Z",
    "time_zone": "UTC",
    "target": "core.echo",
}
_NOT_SET: dict[str, Any] = {
    "description": "",
    "run_at": None,
    "interval_weeks": 0,
    "interval_days": 0,
    "interval_hours": 0,
    "interval_minutes": 0,
    "interval_seconds": 0,
    "repeats": None,
    "cron_expression": "",
    "cron_dialect": "",
    "dst_gap": "",
    "dst_fold": "",
    "start_at": None,
    "end_at": None,
    "input": {},
    "extra": "",
    "correlation_id": "",
    "priority": 0,
    "overlap_policy": "skip",
    "max_parallel": None,
    "missed_policy": "run_once",
    "catchup_window_seconds": 60,
    "max_retries": 0,
    "retry_delay_seconds": 30,
    "time_limit_seconds": None,
    "keep_runs_days": None,
    "keep_runs_count": None,
    "tags": {},
    "is_paused": False,
    "paused_reason": "",
    "paused_by": None,
    "paused_at": None,
    "last_run_at": None,
    "run_count": 0,
    "is_finished": False,
    "created_at": "2030-01-07T12:00:00Z",
    "updated_at": "2030-01-07T12:00:00Z",
    "created_by": "edda-editor",
    "updated_by": "edda-editor",
}
CRON_SCHEDULE_EXAMPLE = {
    **_NOT_SET,
    **CRON_WRITE_EXAMPLE,
    "id": 12,
    # 02:30 in Berlin is 01:30 UTC in winter.
    "next_run_at": "2030-01-08T01:30:00Z",
    "description_human": "At 02:30 (Europe/Berlin)",
}
INTERVAL_SCHEDULE_EXAMPLE = {
    **_NOT_SET,
    **INTERVAL_WRITE_EXAMPLE,
    "id": 13,
    "next_run_at": "2030-01-07T12:15:00Z",
    "last_run_at": "2030-01-07T12:00:00Z",
    "run_count": 1,
    "description_human": "every 15 minutes, from 2030-01-07T12:00:00+00:00",
}
PAUSED_SCHEDULE_EXAMPLE = {
    **CRON_SCHEDULE_EXAMPLE,
    "is_paused": True,
    "paused_reason": "Finance closes the books until Monday",
    "paused_by": "otto-operator",
    "paused_at": "2030-01-07T12:05:00Z",
    "next_run_at": None,
    "updated_at": "2030-01-07T12:05:00Z",
    "updated_by": "otto-operator",
}


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Nightly in Berlin, Spring cron",
            value=CRON_WRITE_EXAMPLE,
            request_only=True,
        ),
        OpenApiExample(
            "Every 15 minutes", value=INTERVAL_WRITE_EXAMPLE, request_only=True
        ),
    ]
)
class ScheduleWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(allow_blank=True, required=False)
    kind = _CHOICE(choices=Schedule.Kind.choices)
    time_zone = serializers.CharField(max_length=64, required=False)
    run_at = WallClockDateTimeField(required=False, allow_null=True)
    interval_weeks = serializers.IntegerField(min_value=0, required=False)
    interval_days = serializers.IntegerField(min_value=0, required=False)
    interval_hours = serializers.IntegerField(min_value=0, required=False)
    interval_minutes = serializers.IntegerField(min_value=0, required=False)
    interval_seconds = serializers.IntegerField(min_value=0, required=False)
    repeats = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    cron_expression = serializers.CharField(
        max_length=200, allow_blank=True, required=False
    )
    cron_dialect = _CHOICE(
        choices=Schedule.CronDialect.choices, allow_blank=True, required=False
    )
    dst_gap = _CHOICE(choices=Schedule.DstGap.choices, allow_blank=True, required=False)
    dst_fold = _CHOICE(
        choices=Schedule.DstFold.choices, allow_blank=True, required=False
    )
    start_at = WallClockDateTimeField(required=False, allow_null=True)
    end_at = WallClockDateTimeField(required=False, allow_null=True)
    target = serializers.CharField(max_length=200)
    input = serializers.JSONField(required=False)
    extra = serializers.CharField(
        allow_blank=True, required=False, trim_whitespace=False
    )
    correlation_id = serializers.CharField(
        max_length=200, allow_blank=True, required=False
    )
    priority = serializers.IntegerField(required=False)
    overlap_policy = _CHOICE(choices=Schedule.OverlapPolicy.choices, required=False)
    max_parallel = serializers.IntegerField(
        min_value=1, required=False, allow_null=True
    )
    missed_policy = _CHOICE(choices=Schedule.MissedPolicy.choices, required=False)
    catchup_window_seconds = serializers.IntegerField(min_value=0, required=False)
    max_retries = serializers.IntegerField(
        min_value=0, max_value=MAX_RETRIES, required=False
    )
    retry_delay_seconds = serializers.IntegerField(min_value=0, required=False)
    time_limit_seconds = serializers.IntegerField(
        min_value=1, required=False, allow_null=True
    )
    keep_runs_days = serializers.IntegerField(
        min_value=1, required=False, allow_null=True
    )
    keep_runs_count = serializers.IntegerField(
        min_value=1, required=False, allow_null=True
    )
    tags = serializers.DictField(child=serializers.CharField(), required=False)
    is_paused = serializers.BooleanField(required=False)
    paused_reason = serializers.CharField(allow_blank=True, required=False)


def _blank_choice(choices: Any) -> serializers.ChoiceField:
    # Declared, not generated: DRF drops allow_blank from read-only model
    # fields, and the schema would then refuse the "" a schedule may hold.
    return serializers.ChoiceField(choices=choices, allow_blank=True, read_only=True)


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Nightly in Berlin",
            value=CRON_SCHEDULE_EXAMPLE,
            response_only=True,
        ),
        OpenApiExample(
            "Every 15 minutes", value=INTERVAL_SCHEDULE_EXAMPLE, response_only=True
        ),
    ]
)
class ScheduleSerializer(serializers.ModelSerializer):
    cron_dialect = _blank_choice(Schedule.CronDialect.choices)
    dst_gap = _blank_choice(Schedule.DstGap.choices)
    dst_fold = _blank_choice(Schedule.DstFold.choices)
    tags = serializers.SerializerMethodField()
    description_human = serializers.SerializerMethodField(
        help_text="What the timing means, in words."
    )
    is_finished = serializers.BooleanField(read_only=True)
    # Null when not paused, or written by the system (the dispatcher, an import).
    paused_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    created_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    updated_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = Schedule
        fields = [
            "id", "name", "description", "kind", "time_zone", "run_at",
            "interval_weeks", "interval_days", "interval_hours", "interval_minutes",
            "interval_seconds", "repeats", "cron_expression", "cron_dialect",
            "dst_gap", "dst_fold", "start_at", "end_at", "target", "input",
            "extra", "correlation_id", "priority", "overlap_policy", "max_parallel",
            "missed_policy", "catchup_window_seconds", "max_retries",
            "retry_delay_seconds", "time_limit_seconds", "keep_runs_days",
            "keep_runs_count", "tags", "is_paused", "paused_reason", "paused_by",
            "paused_at", "next_run_at", "last_run_at", "run_count", "is_finished",
            "description_human", "created_at", "updated_at", "created_by",
            "updated_by",
        ]  # fmt: skip
        read_only_fields = fields

    def get_tags(self, schedule: Schedule) -> dict[str, str]:
        return {tag.key: tag.value for tag in schedule.tags.all()}

    def get_description_human(self, schedule: Schedule) -> str:
        from schedules.services import schedule_describe

        return schedule_describe(schedule)


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "With a reason",
            value={"reason": "Finance closes the books until Monday"},
            request_only=True,
        )
    ]
)
class PauseSerializer(serializers.Serializer):
    reason = serializers.CharField(allow_blank=True, required=False, default="")


@extend_schema_serializer(
    examples=[OpenApiExample("Twelve changed", value={"count": 12}, response_only=True)]
)
class CountSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="How many schedules changed.")


class PreviewFireSerializer(serializers.Serializer):
    utc = serializers.DateTimeField()
    schedule_zone = serializers.CharField(help_text="ISO 8601 with the zone's offset")
    viewer_zone = serializers.CharField(help_text="ISO 8601 with the viewer's offset")
    schedule_zone_abbreviation = serializers.CharField(
        help_text="The schedule's zone abbreviation at that instant, e.g. CEST"
    )
    viewer_zone_abbreviation = serializers.CharField(
        help_text="The viewer's zone abbreviation at that instant, e.g. EDT"
    )
    dst = serializers.ChoiceField(
        choices=["shifted", "repeated"],
        allow_null=True,
        help_text="shifted: moved out of a spring-forward gap; repeated: the second "
        "occurrence of a fall-back wall-clock time.",
    )


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Spring-forward night in Berlin",
            description="02:30 does not exist on 31 March 2030 in Berlin: the fire "
            "shifts to 03:00, the first instant after the gap.",
            value={
                "description": "At 02:30 (Europe/Berlin), from "
                "2030-03-29T23:00:00+00:00",
                "time_zone": "Europe/Berlin",
                "viewer_zone": "America/New_York",
                "fires": [
                    {
                        "utc": "2030-03-30T01:30:00+00:00",
                        "schedule_zone": "2030-03-30T02:30:00+01:00",
                        "viewer_zone": "2030-03-29T21:30:00-04:00",
                        "schedule_zone_abbreviation": "CET",
                        "viewer_zone_abbreviation": "EDT",
                        "dst": None,
                    },
                    {
                        "utc": "2030-03-31T01:00:00+00:00",
                        "schedule_zone": "2030-03-31T03:00:00+02:00",
                        "viewer_zone": "2030-03-30T21:00:00-04:00",
                        "schedule_zone_abbreviation": "CEST",
                        "viewer_zone_abbreviation": "EDT",
                        "dst": "shifted",
                    },
                ],
            },
            response_only=True,
        )
    ]
)
class PreviewSerializer(serializers.Serializer):
    description = serializers.CharField()
    time_zone = serializers.CharField()
    viewer_zone = serializers.CharField()
    fires = PreviewFireSerializer(many=True)


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Spring-forward night in Berlin",
            value={
                "kind": "cron",
                "cron_expression": "30 2 * * *",
                "time_zone": "Europe/Berlin",
                "start_at": "2030-03-30T00:00:00+01:00",
                "count": 2,
                "viewer_zone": "America/New_York",
            },
            request_only=True,
        )
    ]
)
class PreviewRequestSerializer(ScheduleWriteSerializer):
    """An unsaved definition; name and target are optional for a preview."""

    name = serializers.CharField(max_length=200, required=False)
    target = serializers.CharField(max_length=200, required=False)
    count = serializers.IntegerField(min_value=1, max_value=100, default=5)
    viewer_zone = serializers.CharField(required=False)


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Team and stage", value={"tags": {"team": "finance", "stage": "prod"}}
        )
    ]
)
class TagsSerializer(serializers.Serializer):
    tags = serializers.DictField(child=serializers.CharField())
