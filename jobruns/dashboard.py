"""Reads for the admin dashboard about runs: the last 24 hours, what runs now,
what failed, and whether the workers and beat are alive.

Each function is one query whose size does not grow with the history: the
chart is aggregated by the database (at most 24 x statuses rows), lists are
sliced, and wide columns (log, traceback, output) are never loaded.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import Count, F, Max, Q, Window
from django.db.models.functions import RowNumber, TruncHour
from django_celery_beat.models import PeriodicTask

from core.models import WorkerHeartbeat
from jobruns.models import JobRun

Status = JobRun.Status
HOURS = 24
# Outcomes that say whether a schedule works; skipped and cancelled runs say
# nothing about it, and active runs have no outcome yet.
OUTCOMES = (Status.SUCCEEDED, Status.FAILED, Status.TIMED_OUT)
FAILURES = (Status.FAILED, Status.TIMED_OUT)
FAILING_HORIZON = timedelta(days=7)
_LIST_COLUMNS = (
    "pk", "schedule_id", "schedule_name", "service", "status", "trigger",
    "queued_at", "started_at", "finished_at", "worker", "error", "attempt",
)  # fmt: skip


@dataclass(frozen=True)
class HourBin:
    start: datetime  # UTC, on the hour
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class RunActivity:
    since: datetime
    bins: list[HourBin]

    @property
    def by_status(self) -> dict[str, int]:
        """Totals per status over the window, in the order of JobRun.Status."""
        totals = dict.fromkeys(Status.values, 0)
        for hour in self.bins:
            for status, count in hour.counts.items():
                totals[status] += count
        return totals


def _hour_floor(instant: datetime) -> datetime:
    return instant.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def jobrun_activity(*, now: datetime) -> RunActivity:
    """Runs queued in the last 24 whole UTC hours (the current one included),
    counted per hour and status.

    Hours are UTC hours, not the viewer's: a UTC hour is always 60 minutes
    (no DST day of 23 or 25 bars) and the page labels each bar in the viewer's
    zone; for a zone offset by a half hour a bar reads 10:30-11:30.
    """
    first = _hour_floor(now) - timedelta(hours=HOURS - 1)
    rows = (
        JobRun.objects.filter(queued_at__gte=first)
        .annotate(hour=TruncHour("queued_at", tzinfo=UTC))
        .values("hour", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    counts: dict[datetime, dict[str, int]] = defaultdict(dict)
    for row in rows:
        counts[row["hour"]][row["status"]] = row["n"]
    bins = []
    for index in range(HOURS):
        start = first + timedelta(hours=index)
        bins.append(HourBin(start=start, counts=counts.get(start, {})))
    return RunActivity(since=first, bins=bins)


@dataclass(frozen=True)
class QueueState:
    queued: int
    in_progress: int


def jobrun_queue_state() -> QueueState:
    """How many runs wait for a worker and how many run now (status index)."""
    row = JobRun.objects.filter(status__in=JobRun.ACTIVE).aggregate(
        queued=Count("pk", filter=Q(status=Status.QUEUED)),
        in_progress=Count("pk", filter=Q(status=Status.IN_PROGRESS)),
    )
    return QueueState(**row)


def jobrun_in_progress(*, limit: int = 10) -> list[JobRun]:
    """Running runs, longest running first."""
    return list(
        JobRun.objects.filter(status=Status.IN_PROGRESS)
        .order_by("started_at", "pk")
        .only(*_LIST_COLUMNS)[:limit]
    )


def jobrun_recent_failures(*, limit: int = 10) -> list[JobRun]:
    """The last failed or timed-out runs, newest first."""
    return list(
        JobRun.objects.filter(status__in=FAILURES)
        .order_by(F("finished_at").desc(nulls_last=True), "-pk")
        .only(*_LIST_COLUMNS)[:limit]
    )


@dataclass(frozen=True)
class FailingSchedule:
    schedule_id: int
    name: str
    last_failed_at: datetime | None


def jobrun_failing_schedules(
    *, now: datetime, last: int = 3, limit: int = 10
) -> list[FailingSchedule]:
    """Schedules whose last `last` outcomes within FAILING_HORIZON all failed
    (or timed out).

    One query: number each schedule's outcomes newest first with a window
    function and keep the first `last`; the schedules whose kept rows are all
    failures are the failing ones. The horizon bounds the rows the window
    reads (the dashboard asks every few seconds); a schedule with fewer than
    `last` outcomes in it is not judged.
    """
    rows = (
        JobRun.objects.filter(
            schedule__isnull=False,
            status__in=OUTCOMES,
            queued_at__gte=now - FAILING_HORIZON,
        )
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("schedule_id")],
                order_by=[F("queued_at").desc(), F("pk").desc()],
            )
        )
        .filter(rank__lte=last)
        .values_list("schedule_id", "schedule__name", "status", "finished_at")
    )
    seen: dict[int, list[tuple[str, str, datetime | None]]] = defaultdict(list)
    for schedule_id, name, status, finished_at in rows:
        seen[schedule_id].append((name, status, finished_at))
    failing = [
        FailingSchedule(
            schedule_id=schedule_id,
            name=outcomes[0][0],
            last_failed_at=max((o[2] for o in outcomes if o[2]), default=None),
        )
        for schedule_id, outcomes in seen.items()
        if len(outcomes) == last and all(o[1] in FAILURES for o in outcomes)
    ]
    return sorted(
        failing,
        key=lambda f: f.last_failed_at.timestamp() if f.last_failed_at else 0,
        reverse=True,
    )[:limit]


@dataclass(frozen=True)
class WorkerState:
    hostname: str
    seen_at: datetime
    alive: bool


@dataclass(frozen=True)
class Health:
    workers: list[WorkerState]
    beat_last_sent: datetime | None

    @property
    def workers_alive(self) -> int:
        return sum(1 for worker in self.workers if worker.alive)


def system_health(*, now: datetime, limit: int = 5) -> Health:
    """Workers by their last heartbeat, and when beat last sent a system task.

    A worker is alive when its heartbeat task ran within
    WORKER_SEEN_WITHIN_SECONDS, the same rule as /readyz. Beat keeps no
    heartbeat of its own; django-celery-beat writes each periodic task's
    last_run_at when it sends it (saved every few minutes), the best sign of
    life of the process that also dispatches schedules.
    """
    window = timedelta(seconds=settings.WORKER_SEEN_WITHIN_SECONDS)
    workers = [
        WorkerState(hostname=host, seen_at=seen, alive=now - seen <= window)
        for host, seen in WorkerHeartbeat.objects.order_by("-seen_at").values_list(
            "hostname", "seen_at"
        )[:limit]
    ]
    beat = PeriodicTask.objects.aggregate(last=Max("last_run_at"))["last"]
    return Health(workers=workers, beat_last_sent=beat)
