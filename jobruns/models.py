"""JobRun: one execution (or one recorded non-execution) of a service.

Every status change is a conditional UPDATE on the previous status, made by
`jobruns.services`; the rules a row must satisfy whoever writes it are
constraints, so two dispatchers or two deliveries of one message cannot double
a run.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce


def result_upload_to(run: JobRun, filename: str) -> str:
    # One folder per run, so pruning a run removes exactly its own file.
    return f"runs/{run.pk}/{filename}"


class JobRun(models.Model):
    class Trigger(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        MANUAL = "manual", "Run now"
        API = "api", "API"
        CLI = "cli", "Command line"
        RETRY = "retry", "Retry"
        BACKFILL = "backfill", "Backfill"
        CATCHUP = "catchup", "Catch-up"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        IN_PROGRESS = "in_progress", "In progress"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        TIMED_OUT = "timed_out", "Timed out"
        CANCELLED = "cancelled", "Cancelled"
        SKIPPED = "skipped", "Skipped"

    class SkipReason(models.TextChoices):
        OVERLAP = "overlap", "A run was still in progress"
        MISSED = "missed", "Missed while the dispatcher was down"
        PAUSED = "paused", "Schedule paused"
        OUTSIDE_WINDOW = "outside_window", "Older than the catch-up window"
        DST_GAP = "dst_gap", "Wall time did not exist (DST gap)"

    FIRE_TRIGGERS = (Trigger.SCHEDULED, Trigger.CATCHUP)
    ACTIVE = (Status.QUEUED, Status.IN_PROGRESS)
    FINISHED = (
        Status.SUCCEEDED,
        Status.FAILED,
        Status.TIMED_OUT,
        Status.CANCELLED,
        Status.SKIPPED,
    )

    # --- what and why
    # SET_NULL, not PROTECT or CASCADE: deleting a schedule keeps its history,
    # readable through `schedule_name`. No index of its own: the indexes below
    # that lead on schedule_id (history, schedule_recent) answer every lookup by
    # schedule, SET_NULL's UPDATE too, and each index costs every dispatched run.
    schedule = models.ForeignKey(
        "schedules.Schedule",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="runs",
        db_index=False,
    )
    schedule_name = models.CharField(max_length=200, blank=True)
    service = models.CharField(max_length=200)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    scheduled_for = models.DateTimeField(null=True, blank=True)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    triggered_by_label = models.CharField(max_length=200, blank=True)
    correlation_id = models.CharField(max_length=200, blank=True)

    # --- snapshot of the request, so a later edit of the schedule changes nothing
    args = models.JSONField(default=list, blank=True)
    input = models.JSONField(default=dict, blank=True)
    extra = models.TextField(blank=True)
    time_limit_seconds = models.PositiveIntegerField()

    # --- lifecycle
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.QUEUED
    )
    # True for runs of skip/queue_one/replace schedules: see the constraint below.
    exclusive = models.BooleanField(default=False)
    # Set by a claim that found this exclusive run in progress: its end must
    # re-send the waiting run. Without it every finish would look for waiters.
    has_waiter = models.BooleanField(default=False)
    queued_at = models.DateTimeField()
    # Last time a message was sent for this run; the reaper re-sends from it.
    sent_at = models.DateTimeField(null=True, blank=True)
    not_before = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=255, blank=True)
    celery_task_id = models.CharField(max_length=255, blank=True)
    attempt = models.PositiveIntegerField(default=1)
    # No index of its own: jobrun_attempt_once (retry_of, attempt) leads on it.
    retry_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="retries",
        db_index=False,
    )

    # --- outcome
    output = models.JSONField(null=True, blank=True)
    log = models.TextField(blank=True)
    error = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    result_file = models.FileField(upload_to=result_upload_to, blank=True)
    skip_reason = models.CharField(
        max_length=16, choices=SkipReason.choices, blank=True
    )
    skipped_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-queued_at", "-id"]
        permissions = [
            ("cancel_jobrun", "Can cancel runs"),
            ("retry_jobrun", "Can retry and re-send runs"),
            ("invoke_service", "Can invoke a service with any input"),
        ]
        constraints = [
            # Exactly once per fire time: a second dispatcher's INSERT for the
            # same fire fails here instead of starting a second run.
            models.UniqueConstraint(
                fields=["schedule", "scheduled_for"],
                condition=Q(trigger__in=["scheduled", "catchup"]),
                name="jobrun_one_run_per_fire",
            ),
            # Overlap skip/queue_one/replace: at most one run in progress per
            # schedule, enforced by the database rather than a check-then-act
            # in code; a second claim fails with IntegrityError and waits.
            models.UniqueConstraint(
                fields=["schedule"],
                condition=Q(exclusive=True, status="in_progress"),
                name="jobrun_one_exclusive_in_progress",
            ),
            # A retry is queued once per attempt, whoever noticed the failure.
            models.UniqueConstraint(
                fields=["retry_of", "attempt"], name="jobrun_attempt_once"
            ),
            models.CheckConstraint(
                name="jobrun_status_valid",
                condition=Q(
                    status__in=[
                        "queued",
                        "in_progress",
                        "succeeded",
                        "failed",
                        "timed_out",
                        "cancelled",
                        "skipped",
                    ]
                ),
            ),
            models.CheckConstraint(
                name="jobrun_skipped_has_reason",
                condition=~Q(status="skipped") | ~Q(skip_reason=""),
            ),
            models.CheckConstraint(
                name="jobrun_reason_only_when_skipped",
                condition=Q(status="skipped") | Q(skip_reason=""),
            ),
            models.CheckConstraint(
                name="jobrun_fire_has_scheduled_for",
                condition=~Q(trigger__in=["scheduled", "catchup"])
                | Q(scheduled_for__isnull=False),
            ),
            models.CheckConstraint(
                name="jobrun_attempt_positive", condition=Q(attempt__gte=1)
            ),
        ]
        indexes = [
            models.Index(fields=["schedule", "-queued_at"], name="jobrun_history_idx"),
            # The run lists' default order (native API, admin): newest first, read
            # from the index instead of sorting a million rows per page.
            models.Index(fields=["-queued_at", "-id"], name="jobrun_recent_idx"),
            # A schedule's runs newest first (OpenSpecimen's job runs): without it
            # a deep page walks the whole primary key filtering on schedule.
            models.Index(fields=["schedule", "-id"], name="jobrun_schedule_recent_idx"),
            # Every order and filter the run lists offer (admin columns, the
            # API's `ordering`, Conductor's `sort`) has an index here. Lists
            # break ties by queued_at then id in the direction of the last key
            # (jobruns.selectors.jobrun_ordering), so (key, queued_at, id) all
            # ascending serves "by key" both ways, read forwards or backwards,
            # and `key = X` newest first (the default order, filtered) too.
            models.Index(
                fields=["status", "queued_at", "id"], name="jobrun_by_status_idx"
            ),
            models.Index(
                fields=["schedule_name", "queued_at", "id"], name="jobrun_by_name_idx"
            ),
            models.Index(
                fields=["service", "queued_at", "id"], name="jobrun_by_service_idx"
            ),
            models.Index(
                fields=["trigger", "queued_at", "id"], name="jobrun_by_trigger_idx"
            ),
            # Only skipped runs have a reason: a small index for a rare filter.
            models.Index(
                fields=["skip_reason", "queued_at", "id"],
                name="jobrun_by_skip_reason_idx",
                condition=~Q(skip_reason=""),
            ),
            models.Index(fields=["-started_at", "-id"], name="jobrun_started_idx"),
            models.Index(fields=["-finished_at", "-id"], name="jobrun_finished_idx"),
            # Conductor's search/executions: runs of schedules ordered by their
            # fire time (scheduled_for, else queued_at), newest first.
            models.Index(
                Coalesce("scheduled_for", "queued_at").desc(),
                F("id").desc(),
                name="jobrun_fire_recent_idx",
                condition=~Q(schedule_name=""),
            ),
            # The dispatcher's overlap question for a batch: which of these
            # schedules have runs not ended yet (jobruns.dispatcher._active_runs).
            # Small (only unended runs), and probed once per schedule, so a
            # burst's queued runs are never read once per batch.
            models.Index(
                fields=["schedule"],
                name="jobrun_active_idx",
                condition=Q(status__in=["queued", "in_progress"]),
            ),
            # The reaper's two questions, cheap however long the history grows.
            models.Index(
                fields=["sent_at"],
                name="jobrun_queued_idx",
                condition=Q(status="queued"),
            ),
            models.Index(
                fields=["heartbeat_at"],
                name="jobrun_running_idx",
                condition=Q(status="in_progress"),
            ),
        ]

    def __str__(self) -> str:
        return f"run #{self.pk} of {self.schedule_name or self.service}"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()
