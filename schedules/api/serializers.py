"""Shapes of the schedules API. Types only: every rule lives in the services."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from schedules.models import Schedule


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
    max_retries = serializers.IntegerField(min_value=0, required=False)
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


class ScheduleSerializer(serializers.ModelSerializer):
    cron_dialect = _blank_choice(Schedule.CronDialect.choices)
    dst_gap = _blank_choice(Schedule.DstGap.choices)
    dst_fold = _blank_choice(Schedule.DstFold.choices)
    tags = serializers.SerializerMethodField()
    description_human = serializers.SerializerMethodField(
        help_text="What the timing means, in words."
    )
    is_finished = serializers.BooleanField(read_only=True)
    paused_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    updated_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

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


class PauseSerializer(serializers.Serializer):
    reason = serializers.CharField(allow_blank=True, required=False, default="")


class CountSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="How many schedules changed.")


class PreviewFireSerializer(serializers.Serializer):
    utc = serializers.DateTimeField()
    schedule_zone = serializers.CharField(help_text="ISO 8601 with the zone's offset")
    viewer_zone = serializers.CharField(help_text="ISO 8601 with the viewer's offset")
    dst = serializers.ChoiceField(
        choices=["shifted", "repeated"],
        allow_null=True,
        help_text="shifted: moved out of a spring-forward gap; repeated: the second "
        "occurrence of a fall-back wall-clock time.",
    )


class PreviewSerializer(serializers.Serializer):
    description = serializers.CharField()
    time_zone = serializers.CharField()
    viewer_zone = serializers.CharField()
    fires = PreviewFireSerializer(many=True)


class PreviewRequestSerializer(ScheduleWriteSerializer):
    """An unsaved definition; name and target are optional for a preview."""

    name = serializers.CharField(max_length=200, required=False)
    target = serializers.CharField(max_length=200, required=False)
    count = serializers.IntegerField(min_value=1, max_value=100, default=5)
    viewer_zone = serializers.CharField(required=False)


class TagsSerializer(serializers.Serializer):
    tags = serializers.DictField(child=serializers.CharField())
