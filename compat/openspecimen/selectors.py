"""OpenSpecimen's visibility rules, in one place for every view that applies them.

OpenSpecimen shows a run to an admin and to the user who started it; a result
file also to the job's recipients. The views only call these.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from compat.openspecimen.serializers import LISTED_STATUSES, is_admin, recipient_ids
from jobruns.models import JobRun
from schedules.models import Schedule


def os_runs_visible(*, user: Any, job: Schedule) -> QuerySet[JobRun]:
    """The job's runs this user may list: every run for an admin, else their own."""
    runs = JobRun.objects.filter(schedule=job, status__in=LISTED_STATUSES)
    if not is_admin(user):
        runs = runs.filter(triggered_by=user)
    return runs


def os_may_read_run(*, user: Any, run: JobRun) -> bool:
    return is_admin(user) or run.triggered_by_id == user.pk


def os_may_download_result(*, user: Any, run: JobRun) -> bool:
    if os_may_read_run(user=user, run=run):
        return True
    return run.schedule is not None and user.pk in recipient_ids(run.schedule)
