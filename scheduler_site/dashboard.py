"""The admin index: what runs next, what failed, whether the system keeps up.

The figures come from the apps' dashboard selectors (schedules.dashboard,
jobruns.dashboard); this module only decides what the signed-in user may see,
turns figures into links into the filtered lists, and draws the chart.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from core.charts import Column, stacked_bars
from core.timefmt import format_span, hour12_preference
from jobruns import dashboard as runs
from jobruns.models import JobRun
from schedules import dashboard as schedules

FAILING_AFTER = 3  # a schedule is "failing" when this many outcomes in a row failed
LIST_SIZE = 10
# A lag beyond this is shown as a warning: the dispatcher sleeps at most a
# second or so (SCHEDULER_DISPATCH_MAX_SLEEP_MS), so a minute means trouble.
LAG_WARNING = timedelta(seconds=60)


def _changelist(name: str, **params: Any) -> str:
    url = reverse(f"admin:{name}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def dashboard_context(request: HttpRequest, *, now: datetime) -> dict[str, Any]:
    """Everything the dashboard shows, limited to what the user may view."""
    user = request.user
    context: dict[str, Any] = {
        "now": now,
        "failing_after": FAILING_AFTER,
        "failing_days": runs.FAILING_HORIZON.days,
    }
    if user.has_perm("schedules.view_schedule"):
        context["schedules"] = _schedules_part(now)
    if user.has_perm("jobruns.view_jobrun"):
        context["runs"] = _runs_part(now)
    if user.has_perm("scheduler_site.view_workerheartbeat"):
        context["health"] = _health_part(now, context.get("schedules"))
    return context


def _schedules_part(now: datetime) -> dict[str, Any]:
    counts = schedules.schedule_counts(now=now)
    link = "schedules_schedule"
    return {
        "counts": counts,
        "figures": [
            ("Active", counts.active, _changelist(link, state="active")),
            ("Paused", counts.paused, _changelist(link, is_paused__exact=1)),
            ("Finished", counts.finished, _changelist(link, state="finished")),
        ],
        "next_fires": schedules.schedule_next_fires(limit=LIST_SIZE),
    }


def _runs_part(now: datetime) -> dict[str, Any]:
    activity = runs.jobrun_activity(now=now)
    link = "jobruns_jobrun"
    since = activity.since.isoformat()
    return {
        "since": activity.since,
        "by_status": [
            (
                status,
                count,
                _changelist(link, status__exact=status, queued_at__gte=since),
            )
            for status, count in activity.by_status.items()
        ],
        "total": sum(activity.by_status.values()),
        "all_link": _changelist(link, queued_at__gte=since),
        "chart": _chart(activity),
        "in_progress": [
            (run, format_span(now - (run.started_at or run.queued_at)))
            for run in runs.jobrun_in_progress(limit=LIST_SIZE)
        ],
        "in_progress_link": _changelist(link, status__exact=JobRun.Status.IN_PROGRESS),
        "failures": [
            (run, _first_line(run.error))
            for run in runs.jobrun_recent_failures(limit=LIST_SIZE)
        ],
        "failures_link": _changelist(link, status__exact=JobRun.Status.FAILED),
        "failing": [
            (failing, _changelist(link, schedule__id__exact=failing.schedule_id))
            for failing in runs.jobrun_failing_schedules(
                now=now, last=FAILING_AFTER, limit=LIST_SIZE
            )
        ],
    }


def _health_part(
    now: datetime, schedules_part: dict[str, Any] | None
) -> dict[str, Any]:
    health = runs.system_health(now=now)
    queue = runs.jobrun_queue_state()
    # The schedules part already read the oldest due fire; a user who may see
    # health but not schedules gets it read here.
    counts = (
        schedules_part["counts"]
        if schedules_part
        else schedules.schedule_counts(now=now)
    )
    lag = counts.dispatch_lag(now)
    link = "jobruns_jobrun"
    return {
        "health": health,
        "workers_link": _changelist("scheduler_site_workerheartbeat"),
        "lag": format_span(lag),
        "lag_late": lag > LAG_WARNING,
        "queued": queue.queued,
        "queued_link": _changelist(link, status__exact=JobRun.Status.QUEUED),
        "in_progress": queue.in_progress,
        "in_progress_link": _changelist(link, status__exact=JobRun.Status.IN_PROGRESS),
    }


def _first_line(text: str, limit: int = 160) -> str:
    """The error's first non-empty line, cut to fit a table cell."""
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _hour_label(start: datetime) -> str:
    """The hour a bar starts at, on the user's clock: '17:00' or '5 PM'."""
    local = timezone.localtime(start)
    if hour12_preference.get():
        return local.strftime("%I %p").lstrip("0")
    return local.strftime("%H:%M")


def _chart(activity: runs.RunActivity) -> Any:
    zone = timezone.localtime(activity.since).strftime("%Z")
    columns = [
        Column(
            key=hour.start.isoformat(),
            label=_hour_label(hour.start),
            counts=hour.counts,
        )
        for hour in activity.bins
    ]
    return stacked_bars(
        columns,
        series=list(JobRun.Status.values),
        title=f"Runs queued per hour over the last 24 hours, by status ({zone})",
    )
