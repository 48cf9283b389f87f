"""Schedules: when a target (a service or component action) should run.

The rules that read only a schedule's own fields (its trigger, whether it is
finished, its next fire after an instant) are model methods; every write goes
through `schedules.services`. The shape rules a row must satisfy whatever wrote
it are `CheckConstraint`s, so the dispatcher can trust what it reads.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from schedules import timing

NAME_PATTERN = r"^[A-Za-z0-9_.\-]+\Z"
name_validator = RegexValidator(
    NAME_PATTERN,
    "use only letters, digits, underscore, dot and hyphen (no spaces), "
    "for example 'nightly-report.v2'",
)
PRIORITY_MAX = 99
# Retries per failed run: a billion would retry for ever; a hundred is already
# more than any flaky target deserves.
MAX_RETRIES = 100


class Schedule(models.Model):
    class Kind(models.TextChoices):
        ONE_TIME = "one_time", "One time"
        INTERVAL = "interval", "Interval"
        CRON = "cron", "Cron"

    class CronDialect(models.TextChoices):
        UNIX = timing.Dialect.UNIX.value, "Unix (5 fields)"
        SPRING = timing.Dialect.SPRING.value, "Spring (6 fields, seconds first)"
        QUARTZ = timing.Dialect.QUARTZ.value, "Quartz (6-7 fields, year last)"

    class DstGap(models.TextChoices):
        SHIFT = timing.DstGap.SHIFT.value, "Shift to the first instant after the gap"
        SKIP = timing.DstGap.SKIP.value, "Skip the fire"

    class DstFold(models.TextChoices):
        FIRST = timing.DstFold.FIRST.value, "Fire at the first occurrence only"
        BOTH = timing.DstFold.BOTH.value, "Fire at both occurrences"

    class OverlapPolicy(models.TextChoices):
        SKIP = "skip", "Skip the fire while a run is in progress"
        QUEUE_ONE = "queue_one", "Queue one run behind the running one"
        REPLACE = "replace", "Cancel the running run and start the new one"
        ALLOW = "allow", "Allow parallel runs (up to max parallel)"

    class MissedPolicy(models.TextChoices):
        RUN_ONCE = "run_once", "Run once for all missed fires"
        RUN_ALL = "run_all", "Run every missed fire"
        SKIP = "skip", "Skip missed fires"

    # --- identity
    name = models.CharField(max_length=200, unique=True, validators=[name_validator])
    description = models.TextField(blank=True)

    # --- timing
    kind = models.CharField(max_length=16, choices=Kind.choices)
    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        help_text="IANA zone in which cron fields and local times are read.",
    )
    run_at = models.DateTimeField(null=True, blank=True)
    interval_weeks = models.PositiveIntegerField(default=0)
    interval_days = models.PositiveIntegerField(default=0)
    interval_hours = models.PositiveIntegerField(default=0)
    interval_minutes = models.PositiveIntegerField(default=0)
    interval_seconds = models.PositiveIntegerField(default=0)
    repeats = models.PositiveIntegerField(
        null=True, blank=True, help_text="Stop after this many fires; empty = forever."
    )
    cron_expression = models.CharField(max_length=200, blank=True)
    cron_dialect = models.CharField(
        max_length=16,
        choices=CronDialect.choices,
        blank=True,
        help_text="Detected from the expression's field count and recorded.",
    )
    dst_gap = models.CharField(
        max_length=8,
        choices=DstGap.choices,
        blank=True,
        help_text="Empty = the product's promise: fixed hours shift, '*' hours skip.",
    )
    dst_fold = models.CharField(
        max_length=8,
        choices=DstFold.choices,
        blank=True,
        help_text="Empty = the product's promise: fixed hours once, '*' hours twice.",
    )
    start_at = models.DateTimeField(null=True, blank=True)
    end_at = models.DateTimeField(null=True, blank=True)

    # --- pause
    is_paused = models.BooleanField(default=False)
    paused_reason = models.CharField(max_length=500, blank=True)
    paused_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    paused_at = models.DateTimeField(null=True, blank=True)

    # --- what runs
    target = models.CharField(
        max_length=200, help_text="Name of the service or component action to run."
    )
    input = models.JSONField(default=dict, blank=True)
    extra = models.TextField(
        blank=True, help_text="Free text handed to the service unchanged."
    )
    correlation_id = models.CharField(max_length=200, blank=True)
    priority = models.IntegerField(
        default=0, validators=[MaxValueValidator(PRIORITY_MAX)]
    )

    # --- run policies (applied by the dispatcher and jobruns)
    overlap_policy = models.CharField(
        max_length=16, choices=OverlapPolicy.choices, default=OverlapPolicy.SKIP
    )
    max_parallel = models.PositiveIntegerField(null=True, blank=True)
    missed_policy = models.CharField(
        max_length=16, choices=MissedPolicy.choices, default=MissedPolicy.RUN_ONCE
    )
    catchup_window_seconds = models.PositiveIntegerField(default=60)
    max_retries = models.PositiveIntegerField(default=0)
    retry_delay_seconds = models.PositiveIntegerField(
        default=30, help_text="Delay before the first retry; doubles per attempt."
    )
    time_limit_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty = the site's default time limit."
    )
    keep_runs_days = models.PositiveIntegerField(null=True, blank=True)
    keep_runs_count = models.PositiveIntegerField(null=True, blank=True)

    # --- bookkeeping
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    run_count = models.PositiveIntegerField(default=0)
    # Not auto_now: services pass the one `now` of their operation.
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["name"]
        # Beyond add/change/delete/view: what the operator group may do.
        permissions = [
            ("run_schedule", "Can run a schedule now"),
            ("pause_schedule", "Can pause and resume schedules"),
        ]
        constraints = [
            models.CheckConstraint(
                name="schedule_kind_valid",
                condition=Q(kind__in=["one_time", "interval", "cron"]),
            ),
            models.CheckConstraint(
                name="schedule_name_not_empty", condition=~Q(name="")
            ),
            models.CheckConstraint(
                name="schedule_one_time_has_run_at",
                condition=~Q(kind="one_time") | Q(run_at__isnull=False),
            ),
            models.CheckConstraint(
                name="schedule_interval_has_positive_part",
                condition=~Q(kind="interval")
                | Q(interval_weeks__gt=0)
                | Q(interval_days__gt=0)
                | Q(interval_hours__gt=0)
                | Q(interval_minutes__gt=0)
                | Q(interval_seconds__gt=0),
            ),
            models.CheckConstraint(
                name="schedule_cron_has_expression",
                condition=~Q(kind="cron") | ~Q(cron_expression=""),
            ),
            models.CheckConstraint(
                name="schedule_end_after_start",
                condition=Q(start_at__isnull=True)
                | Q(end_at__isnull=True)
                | Q(end_at__gt=F("start_at")),
            ),
            models.CheckConstraint(
                name="schedule_repeats_positive",
                condition=Q(repeats__isnull=True) | Q(repeats__gt=0),
            ),
            models.CheckConstraint(
                name="schedule_priority_range",
                condition=Q(priority__gte=0) & Q(priority__lte=PRIORITY_MAX),
            ),
            models.CheckConstraint(
                name="schedule_max_parallel_positive",
                condition=Q(max_parallel__isnull=True) | Q(max_parallel__gt=0),
            ),
            models.CheckConstraint(
                name="schedule_target_not_empty", condition=~Q(target="")
            ),
        ]
        indexes = [
            # The dispatcher's one query: "active schedules due by now, oldest
            # first". Paused and finished rows are most of a mature table, so a
            # partial index keeps the hot index small.
            models.Index(
                fields=["next_run_at"],
                name="schedule_due_idx",
                condition=Q(is_paused=False, next_run_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def interval(self) -> timedelta:
        return timedelta(
            weeks=self.interval_weeks,
            days=self.interval_days,
            hours=self.interval_hours,
            minutes=self.interval_minutes,
            seconds=self.interval_seconds,
        )

    @property
    def interval_origin(self) -> datetime:
        """Interval fires are start + k * interval; without a start, creation."""
        return self.start_at or self.created_at

    def trigger(self) -> timing.Trigger:
        """The timing trigger for this row; TimingError when a field is invalid."""
        if self.kind == self.Kind.ONE_TIME:
            if self.run_at is None:
                raise timing.TimingError("run_at", "a one-time schedule needs run_at")
            return timing.OneTimeTrigger(self.run_at)
        if self.kind == self.Kind.INTERVAL:
            every = timing.interval_from_parts(
                weeks=self.interval_weeks,
                days=self.interval_days,
                hours=self.interval_hours,
                minutes=self.interval_minutes,
                seconds=self.interval_seconds,
            )
            return timing.IntervalTrigger(self.interval_origin, every, self.repeats)
        if self.kind == self.Kind.CRON:
            return timing.CronTrigger(
                timing.CronExpression.parse(
                    self.cron_expression,
                    timing.Dialect(self.cron_dialect) if self.cron_dialect else None,
                ),
                timing.load_zone(self.time_zone),
                timing.DstGap(self.dst_gap) if self.dst_gap else None,
                timing.DstFold(self.dst_fold) if self.dst_fold else None,
            )
        raise timing.TimingError("kind", f"unknown kind {self.kind!r}")

    def next_fire_after(self, instant: datetime) -> timing.Fire | None:
        """The first fire strictly after `instant` within [start_at, end_at]."""
        return timing.next_fire(
            self.trigger(), after=instant, start=self.start_at, end=self.end_at
        )

    @property
    def is_finished(self) -> bool:
        """True when the schedule will never fire again (kept for its history).

        Services keep next_run_at set while an active schedule has a fire left,
        so an active row without one is finished. A paused row has no next run;
        it is finished when nothing is left after the moment it was paused.
        """
        if self.next_run_at is not None:
            return False
        if not self.is_paused:
            return True
        since = self.paused_at or self.last_run_at or self.created_at
        return self.next_fire_after(since) is None


class ScheduleTag(models.Model):
    schedule = models.ForeignKey(
        Schedule, on_delete=models.CASCADE, related_name="tags"
    )
    key = models.CharField(max_length=100)
    value = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["key"]
        constraints = [
            models.UniqueConstraint(
                fields=["schedule", "key"], name="schedule_tag_unique_key"
            ),
            models.CheckConstraint(
                name="schedule_tag_key_not_empty", condition=~Q(key="")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key}={self.value}" if self.value else self.key
