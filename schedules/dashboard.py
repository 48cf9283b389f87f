"""Reads for the admin dashboard about schedules (counts, next fires, lag)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Min, Q

from schedules.models import Schedule

# A paused schedule has no next run (schedule_pause clears it), so the three
# states split the table: active has a next run, finished has none and is not
# paused. The same split as the schedules list's "state" and "paused" filters.
ACTIVE = Q(is_paused=False, next_run_at__isnull=False)
FINISHED = Q(is_paused=False, next_run_at__isnull=True)


@dataclass(frozen=True)
class ScheduleCounts:
    active: int
    paused: int
    finished: int
    # The oldest next_run_at that is due and not dispatched yet, if any.
    oldest_due: datetime | None

    def dispatch_lag(self, now: datetime) -> timedelta:
        """How far behind the dispatcher is: zero when nothing is overdue."""
        if self.oldest_due is None:
            return timedelta(0)
        return max(timedelta(0), now - self.oldest_due)


def schedule_counts(*, now: datetime) -> ScheduleCounts:
    """Active / paused / finished, and the oldest due fire, in one query."""
    row = Schedule.objects.aggregate(
        active=Count("pk", filter=ACTIVE),
        paused=Count("pk", filter=Q(is_paused=True)),
        finished=Count("pk", filter=FINISHED),
        oldest_due=Min("next_run_at", filter=ACTIVE & Q(next_run_at__lte=now)),
    )
    return ScheduleCounts(**row)


def schedule_next_fires(*, limit: int = 10) -> list[Schedule]:
    """The next `limit` active schedules to fire, soonest first (partial index)."""
    return list(
        Schedule.objects.filter(ACTIVE)
        .order_by("next_run_at", "pk")
        .only("pk", "name", "kind", "target", "time_zone", "next_run_at")[:limit]
    )
