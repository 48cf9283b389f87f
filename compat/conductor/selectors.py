"""Reads the Conductor API needs: schedules by workflow, execution search."""

from __future__ import annotations

from typing import cast

from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce

from compat.conductor.search import ExecutionQuery
from compat.conductor.serializers import STATE_STATUSES
from compat.conductor.services import from_ms
from core.counting import count_bounded
from jobruns.models import JobRun
from jobruns.selectors import jobrun_ordering
from schedules.models import Schedule

_TIME_COLUMNS = {"scheduledTime": "fire_at", "executionTime": "queued_at"}
_SORT_COLUMNS = {
    "scheduledTime": "fire_at",
    "executionTime": "queued_at",
    "scheduleName": "schedule_name",
    "workflowName": "service",
    "state": "status",
}
_LOOKUPS = {">": "gt", ">=": "gte", "<": "lt", "<=": "lte", "=": "exact"}


def conductor_schedule_list(*, workflow_name: str | None = None) -> QuerySet[Schedule]:
    schedules = (
        Schedule.objects.select_related("created_by", "updated_by", "conductor")
        .prefetch_related("tags")
        .order_by("name")
    )
    if workflow_name and workflow_name.strip():
        schedules = schedules.filter(target=workflow_name.strip())
    return schedules


def conductor_schedule_get(name: str) -> Schedule | None:
    return conductor_schedule_list().filter(name=name).first()


def _filters(query: ExecutionQuery) -> Q:
    # Schedule executions are runs of a schedule; ad-hoc runs (POST /workflow)
    # are workflows, not scheduler executions.
    condition = ~Q(schedule_name="")
    if query.schedule_names is not None:
        condition &= Q(schedule_name__in=query.schedule_names)
    if query.states is not None:
        statuses = [s for state in query.states for s in STATE_STATUSES[state]]
        condition &= Q(status__in=statuses)
    if query.workflow_name:
        condition &= Q(service__icontains=query.workflow_name)
    if query.execution_ids is not None:
        ids = [int(value) for value in query.execution_ids if value.isdigit()]
        condition &= Q(pk__in=ids)
    for field, op, ms in query.times:
        condition &= Q(**{f"{_TIME_COLUMNS[field]}__{_LOOKUPS[op]}": from_ms(ms)})
    return condition


def schedule_execution_search(
    *, query: ExecutionQuery, sort: list[tuple[str, bool]], start: int, size: int
) -> tuple[int, list[JobRun]]:
    """(total hits, the page of runs) for a parsed search; one to three queries.

    The default order (scheduledTime DESC) is `jobrun_fire_recent_idx`: the
    same expression, the same `schedule_name <> ''` condition, so the page is
    an index scan however many runs there are. totalHits is exact when the
    page reaches the end or up to EXACT_COUNT_UP_TO matches, PostgreSQL's
    estimate above that: the SDK only passes totalHits through
    (shared/specs/conductor.md), and counting a million runs cost seconds.
    """
    runs = JobRun.objects.annotate(
        fire_at=Coalesce(F("scheduled_for"), F("queued_at"))
    ).filter(_filters(query))
    # Ties broken as the run indexes are built (jobruns.selectors.jobrun_ordering):
    # "state DESC" is then one index scan, not a sort of every succeeded run.
    keys = [("-" if desc else "") + _SORT_COLUMNS[field] for field, desc in sort]
    order = jobrun_ordering(keys)
    page = cast(
        "list[JobRun]",
        list(runs.select_related("schedule").order_by(*order)[start : start + size]),
    )
    if len(page) < size and (page or not start):
        return start + len(page), page
    total, _exact = count_bounded(runs, at_least=start + len(page))
    return total, page
