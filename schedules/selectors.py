"""Reads of schedules that pages share: the list with each schedule's recent runs."""

from __future__ import annotations

from typing import Any

from django.db.models import OuterRef, Prefetch, QuerySet, Subquery

from schedules.models import Schedule

RECENT_RUNS = 10


def _run_model() -> Any:
    # The run model through the reverse relation jobruns declares, so this
    # app reads its schedules' runs without importing jobruns (imports run
    # downhill: jobruns imports schedules).
    return Schedule._meta.get_field("runs").related_model


def schedule_list_with_recent_runs(
    *, queryset: QuerySet[Schedule] | None = None, recent: int = RECENT_RUNS
) -> QuerySet[Schedule]:
    """Schedules with tags and `recent_runs` (newest first, at most `recent`).

    The runs come in one query for the whole page: a sliced Prefetch, which
    Django turns into a window function over the page's schedule ids.
    """
    runs = _run_model().objects.only(
        "id", "schedule_id", "status", "queued_at", "started_at", "finished_at"
    )
    schedules = Schedule.objects.all() if queryset is None else queryset
    return schedules.prefetch_related(
        "tags",
        Prefetch(
            "runs",
            queryset=runs.order_by("-queued_at", "-id")[:recent],
            to_attr="recent_runs",
        ),
    )


def schedule_with_last_status(queryset: QuerySet[Schedule]) -> QuerySet[Schedule]:
    """Annotate `last_status`: the status of each schedule's newest run."""
    newest = (
        _run_model()
        .objects.filter(schedule=OuterRef("pk"))
        .order_by("-queued_at", "-id")
        .values("status")[:1]
    )
    return queryset.annotate(last_status=Subquery(newest))
