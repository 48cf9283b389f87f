"""dispatch_due with a pinned `now`: missed-fire policies, overlap, bounds."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest

from jobruns.dispatcher import dispatch_due, plan_fires
from jobruns.models import JobRun
from jobruns.services import jobrun_claim, jobrun_enqueue
from schedules.models import Schedule
from tests.jobruns.conftest import NOON, MakeSchedule

Status = JobRun.Status
OUTAGE = timedelta(minutes=5)


@pytest.fixture(autouse=True)
def sent() -> Any:
    """Both message shapes: one run (execute_run) and several (execute_runs)."""
    with (
        mock.patch("jobruns.tasks.execute_run.apply_async") as one,
        mock.patch("jobruns.tasks.execute_runs.apply_async") as several,
    ):
        yield SimpleNamespace(one=one, several=several)


def _due_at(schedule: Schedule, at: Any) -> Schedule:
    Schedule.objects.filter(pk=schedule.pk).update(next_run_at=at)
    schedule.refresh_from_db()
    return schedule


def _runs(schedule: Schedule) -> list[JobRun]:
    return list(schedule.runs.order_by("scheduled_for"))


@pytest.mark.django_db
def test_a_due_fire_becomes_one_queued_run_and_next_run_at_moves_on(
    make_schedule: MakeSchedule,
) -> None:
    schedule = _due_at(make_schedule(), NOON)

    assert dispatch_due(now=NOON + timedelta(milliseconds=300)) == 1

    [run] = _runs(schedule)
    assert (run.status, run.trigger, run.scheduled_for) == (
        Status.QUEUED,
        JobRun.Trigger.SCHEDULED,
        NOON,
    )
    assert run.triggered_by_label == "dispatcher"
    schedule.refresh_from_db()
    assert schedule.next_run_at == NOON + timedelta(seconds=10)


@pytest.mark.django_db
def test_nothing_is_dispatched_before_its_time_or_while_paused(
    make_schedule: MakeSchedule,
) -> None:
    early = _due_at(make_schedule(), NOON + timedelta(seconds=1))
    paused = _due_at(make_schedule(), NOON)
    Schedule.objects.filter(pk=paused.pk).update(is_paused=True)

    assert dispatch_due(now=NOON) == 0
    assert not JobRun.objects.exists()
    early.refresh_from_db()
    assert early.next_run_at == NOON + timedelta(seconds=1)


@pytest.mark.django_db
def test_run_once_after_a_five_minute_outage_runs_once_and_records_the_rest(
    make_schedule: MakeSchedule,
) -> None:
    schedule = _due_at(make_schedule(missed_policy="run_once"), NOON)

    assert dispatch_due(now=NOON + OUTAGE) == 1

    skipped, run = _runs(schedule)
    assert (run.status, run.scheduled_for) == (Status.QUEUED, NOON + OUTAGE)
    assert (skipped.status, skipped.skip_reason, skipped.skipped_count) == (
        Status.SKIPPED,
        JobRun.SkipReason.MISSED,
        30,
    )
    assert skipped.scheduled_for == NOON
    assert "30 fire(s)" in skipped.log
    schedule.refresh_from_db()
    assert schedule.next_run_at == NOON + OUTAGE + timedelta(seconds=10)


@pytest.mark.django_db
def test_run_all_runs_each_fire_in_the_window_oldest_first(
    make_schedule: MakeSchedule,
) -> None:
    schedule = _due_at(
        make_schedule(missed_policy="run_all", overlap_policy="allow"), NOON
    )

    assert dispatch_due(now=NOON + OUTAGE) == 7

    skipped, *runs = _runs(schedule)
    assert [run.scheduled_for - NOON for run in runs] == [
        timedelta(seconds=s) for s in range(240, 301, 10)
    ]
    assert list(schedule.runs.filter(status=Status.QUEUED).order_by("pk")) == runs
    assert {run.trigger for run in runs[:-1]} == {JobRun.Trigger.CATCHUP}
    assert runs[-1].trigger == JobRun.Trigger.SCHEDULED
    assert (skipped.skip_reason, skipped.skipped_count) == ("outside_window", 24)


@pytest.mark.django_db
def test_skip_runs_only_the_on_time_fire_after_an_outage(
    make_schedule: MakeSchedule,
) -> None:
    schedule = _due_at(make_schedule(missed_policy="skip"), NOON)

    assert dispatch_due(now=NOON + OUTAGE) == 1

    skipped, run = _runs(schedule)
    assert run.scheduled_for == NOON + OUTAGE
    assert (skipped.skip_reason, skipped.skipped_count) == ("missed", 30)


@pytest.mark.django_db
def test_a_daily_fire_missed_by_more_than_the_window_never_surprises(
    make_schedule: MakeSchedule,
) -> None:
    schedule = _due_at(
        make_schedule(kind="cron", cron_expression="0 12 * * *", interval_seconds=0),
        NOON,
    )

    assert dispatch_due(now=NOON + OUTAGE) == 0

    [skipped] = _runs(schedule)
    assert (skipped.skip_reason, skipped.skipped_count) == ("outside_window", 1)
    schedule.refresh_from_db()
    assert schedule.next_run_at == NOON + timedelta(days=1)


def test_plan_fires_counts_a_fire_within_the_grace_as_on_time() -> None:
    plan = plan_fires(
        [NOON], now=NOON + timedelta(seconds=4), policy="skip", window_seconds=60,
        on_time_seconds=5,
    )  # fmt: skip

    assert plan.run == [(NOON, JobRun.Trigger.SCHEDULED)]
    assert plan.dropped == []


@pytest.mark.django_db
def test_overlap_skip_records_a_skipped_run_while_one_is_in_progress(
    make_schedule: MakeSchedule,
) -> None:
    schedule = _due_at(make_schedule(overlap_policy="skip"), NOON)
    running = jobrun_enqueue(schedule=schedule, trigger="manual", now=NOON)
    jobrun_claim(run_id=running.pk, worker="w", now=NOON)

    assert dispatch_due(now=NOON) == 0

    skipped = schedule.runs.get(trigger="scheduled")
    assert (skipped.status, skipped.skip_reason) == (Status.SKIPPED, "overlap")


@pytest.mark.django_db
def test_overlap_queue_one_queues_one_behind_the_running_run_and_skips_more(
    make_schedule: MakeSchedule,
) -> None:
    schedule = _due_at(make_schedule(overlap_policy="queue_one"), NOON)
    running = jobrun_enqueue(schedule=schedule, trigger="manual", now=NOON)
    jobrun_claim(run_id=running.pk, worker="w", now=NOON)

    assert dispatch_due(now=NOON) == 1
    assert dispatch_due(now=NOON + timedelta(seconds=10)) == 0

    waiting, extra = schedule.runs.filter(trigger="scheduled").order_by("pk")
    assert waiting.status == Status.QUEUED
    assert (extra.status, extra.skip_reason) == (Status.SKIPPED, "overlap")


@pytest.mark.django_db
def test_overlap_replace_cancels_the_running_run_and_queues_the_new_one(
    make_schedule: MakeSchedule,
) -> None:
    schedule = _due_at(make_schedule(overlap_policy="replace"), NOON)
    running = jobrun_enqueue(schedule=schedule, trigger="manual", now=NOON)
    jobrun_claim(run_id=running.pk, worker="w", now=NOON)

    with mock.patch("scheduler_site.celery.app.control.revoke"):
        assert dispatch_due(now=NOON) == 1

    running.refresh_from_db()
    assert running.status == Status.CANCELLED
    new = schedule.runs.get(trigger="scheduled")
    assert jobrun_claim(run_id=new.pk, worker="w", now=NOON)


@pytest.mark.django_db
def test_overlap_allow_runs_in_parallel_up_to_max_parallel(
    make_schedule: MakeSchedule,
) -> None:
    schedule = _due_at(make_schedule(overlap_policy="allow", max_parallel=2), NOON)

    assert dispatch_due(now=NOON) == 1
    assert dispatch_due(now=NOON + timedelta(seconds=10)) == 1
    assert dispatch_due(now=NOON + timedelta(seconds=20)) == 0

    statuses = list(schedule.runs.order_by("pk").values_list("status", flat=True))
    assert statuses == [Status.QUEUED, Status.QUEUED, Status.SKIPPED]


@pytest.mark.django_db
def test_a_fire_already_dispatched_elsewhere_is_not_run_twice(
    make_schedule: MakeSchedule,
) -> None:
    schedule = _due_at(make_schedule(overlap_policy="allow"), NOON)
    dispatch_due(now=NOON)
    # A second dispatcher that read the schedule before the first committed.
    _due_at(schedule, NOON)

    assert dispatch_due(now=NOON) == 0
    assert schedule.runs.count() == 1


@pytest.mark.django_db
def test_a_one_time_schedule_is_finished_after_its_fire(
    make_schedule: MakeSchedule,
) -> None:
    schedule = make_schedule(
        kind="one_time", run_at=NOON + timedelta(minutes=1), interval_seconds=0
    )

    assert dispatch_due(now=NOON + timedelta(minutes=1)) == 1

    schedule.refresh_from_db()
    assert schedule.next_run_at is None
    assert dispatch_due(now=NOON + timedelta(hours=1)) == 0


@pytest.mark.django_db
def test_the_end_bound_stops_an_interval_schedule(make_schedule: MakeSchedule) -> None:
    schedule = _due_at(
        make_schedule(end_at=NOON + timedelta(seconds=15), overlap_policy="allow"),
        NOON + timedelta(seconds=10),
    )

    assert dispatch_due(now=NOON + timedelta(seconds=10)) == 1

    schedule.refresh_from_db()
    assert schedule.next_run_at is None


@pytest.mark.django_db
def test_interval_repeats_stop_the_schedule_after_that_many_fires(
    make_schedule: MakeSchedule,
) -> None:
    schedule = _due_at(make_schedule(repeats=2, overlap_policy="allow"), NOON)

    dispatch_due(now=NOON)
    dispatch_due(now=NOON + timedelta(seconds=10))

    schedule.refresh_from_db()
    assert schedule.runs.count() == 2
    assert schedule.next_run_at is None


@pytest.mark.django_db
def test_a_schedule_whose_service_is_gone_records_a_failed_run(
    make_schedule: MakeSchedule,
) -> None:
    schedule = _due_at(make_schedule(), NOON)
    Schedule.objects.filter(pk=schedule.pk).update(target="gone.service")

    assert dispatch_due(now=NOON) == 0

    [run] = _runs(schedule)
    assert run.status == Status.FAILED
    assert "gone.service" in run.error


def _due_many(count: int, *, at: Any = NOON, **fields: Any) -> list[Schedule]:
    """`count` interval schedules due at `at`, made in one INSERT (setup only)."""
    first = Schedule.objects.count()
    return Schedule.objects.bulk_create(
        Schedule(
            name=f"bulk-{first + i}",
            kind="interval",
            interval_seconds=10,
            start_at=NOON,
            target="core.echo",
            next_run_at=at,
            **fields,
        )
        for i in range(count)
    )


def _statements_of_one_batch(count: int, now: Any) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _due_many(count, at=now)
    with CaptureQueriesContext(connection) as queries:
        assert dispatch_due(now=now, batch_size=500) == count
    # Not the test transaction's own savepoints (the dispatcher makes none).
    control = ("SAVEPOINT", "RELEASE SAVEPOINT", "BEGIN")
    return sum(
        not query["sql"].startswith(control) for query in queries.captured_queries
    )


@pytest.mark.django_db
def test_a_batch_of_200_due_schedules_costs_the_statements_of_a_batch_of_10() -> None:
    # The first ten have moved on to NOON + 10 s when the 200 are taken.
    small = _statements_of_one_batch(10, NOON)
    large = _statements_of_one_batch(200, NOON)

    # Lock the batch, read its in-progress runs, insert the runs, ask Conductor
    # for its context, advance next_run_at.
    assert small == large == 5


@pytest.mark.django_db
def test_overlap_policies_of_a_batch_are_judged_with_one_read_of_active_runs(
    make_schedule: MakeSchedule,
) -> None:
    skip = _due_at(make_schedule(overlap_policy="skip"), NOON)
    queue_one = _due_at(make_schedule(overlap_policy="queue_one"), NOON)
    capped = _due_at(make_schedule(overlap_policy="allow", max_parallel=1), NOON)
    for schedule in (skip, queue_one, capped):
        running = jobrun_enqueue(schedule=schedule, trigger="manual", now=NOON)
        jobrun_claim(run_id=running.pk, worker="w", now=NOON)

    assert dispatch_due(now=NOON) == 1

    fired = {
        run.schedule_id: (run.status, run.skip_reason)
        for run in JobRun.objects.filter(trigger="scheduled")
    }
    assert fired == {
        skip.pk: (Status.SKIPPED, "overlap"),
        queue_one.pk: (Status.QUEUED, ""),
        capped.pk: (Status.SKIPPED, "overlap"),
    }


@pytest.mark.django_db
def test_the_runs_of_a_batch_are_sent_after_commit_on_one_producer(
    sent: Any, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    settings.JOBRUN_RUNS_PER_MESSAGE = 2
    _due_many(5, overlap_policy="allow")

    with django_capture_on_commit_callbacks() as callbacks:
        assert dispatch_due(now=NOON) == 5
        assert sent.one.call_count + sent.several.call_count == 0  # not before commit
    [publish] = callbacks
    with mock.patch(
        "jobruns.tasks.execute_run.app.producer_or_acquire"
    ) as producer_or_acquire:
        publish()

    producer = producer_or_acquire.return_value.__enter__.return_value
    assert producer_or_acquire.call_count == 1
    calls = sent.several.call_args_list + sent.one.call_args_list
    assert [call.kwargs["producer"] for call in calls] == [producer] * 3
    # Five runs, two per message: two messages of two, one of one.
    assert [len(call.kwargs["args"][0]) for call in sent.several.call_args_list] == [
        2,
        2,
    ]
    [single] = sent.one.call_args_list
    run_ids = [
        i for call in sent.several.call_args_list for i in call.kwargs["args"][0]
    ]
    run_ids.append(single.kwargs["args"][0])
    assert sorted(run_ids) == sorted(JobRun.objects.values_list("pk", flat=True))
    # The lone run keeps its own task id (what cancel revokes); a message of
    # several gets one of its own.
    assert single.kwargs["task_id"] == JobRun.objects.get(pk=run_ids[-1]).celery_task_id
    assert len({call.kwargs["task_id"] for call in calls}) == 3


@pytest.mark.django_db
def test_runs_with_different_time_limits_never_share_a_message(
    sent: Any, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    settings.JOBRUN_MESSAGE_SLICE_SECONDS = 2
    settings.JOBRUN_HARD_LIMIT_GRACE_SECONDS = 30
    _due_many(3, overlap_policy="allow", time_limit_seconds=60)
    _due_many(2, overlap_policy="allow", time_limit_seconds=600)

    with django_capture_on_commit_callbacks(execute=True):
        assert dispatch_due(now=NOON) == 5

    by_limit = {
        call.kwargs["soft_time_limit"]: call.kwargs
        for call in sent.several.call_args_list
    }
    limits = dict(JobRun.objects.values_list("pk", "time_limit_seconds").order_by("pk"))
    # The message's soft limit is the runs' own limit plus one slice (the
    # worker enforces each run's limit itself); the hard one a grace later.
    assert sorted(by_limit) == [62, 602]
    assert {limits[pk] for pk in by_limit[62]["args"][0]} == {60}
    assert {limits[pk] for pk in by_limit[602]["args"][0]} == {600}
    assert by_limit[62]["time_limit"] == 92


@pytest.mark.django_db
def test_a_fire_is_judged_late_against_the_clock_when_its_batch_is_taken() -> None:
    from django.utils import timezone

    # The tick started 10 minutes ago (say, earlier batches took that long):
    # the fire is due by the tick's start but late by the time it is taken.
    tick_start = timezone.now() - timedelta(minutes=10)
    [schedule] = _due_many(
        1, at=tick_start, missed_policy="skip", catchup_window_seconds=3600
    )

    assert dispatch_due(now=tick_start) == 0

    [skipped] = _runs(schedule)
    assert (skipped.status, skipped.skip_reason) == (Status.SKIPPED, "missed")


@pytest.mark.requires_postgres
def test_the_overlap_query_probes_the_schedules_alone_on_stale_statistics(
    make_schedule: MakeSchedule,
) -> None:
    """A burst's queued runs are not in the statistics yet; the batch's overlap
    query must still look at its own schedules' runs only, not scan them all."""
    import json

    from django.db import connection

    from jobruns.dispatcher import active_counts_statement

    mine, other = make_schedule(), make_schedule()

    def runs(status: str, count: int) -> None:
        JobRun.objects.bulk_create(
            JobRun(
                schedule=other,
                schedule_name=other.name,
                service="core.echo",
                trigger="manual",
                status=status,
                queued_at=NOON,
                time_limit_seconds=60,
            )
            for _ in range(count)
        )

    runs("succeeded", 3000)  # the history the statistics are taken on
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE jobruns_jobrun")
    runs("queued", 3000)  # a burst since
    jobrun_enqueue(schedule=mine, trigger="manual", now=NOON)
    # A batch asks about hundreds of schedules (most have no runs at all).
    batch = [mine.pk, *range(other.pk + 1, other.pk + 500)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"EXPLAIN (ANALYZE, FORMAT JSON) {active_counts_statement()}", [batch]
        )
        [[plan]] = cursor.fetchone()
    nodes = json.dumps(plan)
    assert '"Index Name": "jobrun_active_idx"' in nodes
    assert "jobrun_by_status_idx" not in nodes
    # What the query answers: one queued run of `mine`, none of `other`'s.
    with connection.cursor() as cursor:
        cursor.execute(active_counts_statement(), [batch])
        assert cursor.fetchall() == [(mine.pk, "queued", 1)]


# --- a backlog is worked on several connections (dispatcher._dispatch_backlog) -------
def _threads_of_batches() -> tuple[Any, set[int]]:
    """Patch `_dispatch_batch` to note the thread of every batch that found work."""
    import threading

    from jobruns import dispatcher

    threads: set[int] = set()
    real = dispatcher._dispatch_batch

    def noted(**kwargs: Any) -> tuple[int, int]:
        handled, queued = real(**kwargs)
        if handled:
            threads.add(threading.get_ident())
        return handled, queued

    return mock.patch.object(dispatcher, "_dispatch_batch", noted), threads


@pytest.mark.django_db(transaction=True)
def test_a_backlog_is_dispatched_on_two_connections_once_per_fire(
    settings: Any,
) -> None:
    from django.db import connection

    settings.SCHEDULER_DISPATCH_CONNECTIONS = 2
    schedules = _due_many(240)
    patched, threads = _threads_of_batches()
    with patched:
        queued = dispatch_due(now=NOON + timedelta(seconds=1), batch_size=20)
    assert queued == 240
    per_schedule = JobRun.objects.values_list("schedule_id", flat=True)
    assert sorted(per_schedule) == sorted(s.pk for s in schedules)
    assert not JobRun.objects.exclude(status=Status.QUEUED).exists()
    assert not Schedule.objects.filter(next_run_at__lte=NOON + timedelta(seconds=1))
    # Two threads took batches on PostgreSQL; SQLite has one writer, one thread.
    assert len(threads) == (2 if connection.vendor == "postgresql" else 1)


@pytest.mark.django_db(transaction=True)
def test_inside_a_transaction_a_backlog_stays_on_the_callers_connection(
    settings: Any,
) -> None:
    from django.db import transaction

    settings.SCHEDULER_DISPATCH_CONNECTIONS = 2
    _due_many(100)
    patched, threads = _threads_of_batches()
    with patched, transaction.atomic():
        queued = dispatch_due(now=NOON + timedelta(seconds=1), batch_size=20)
    assert queued == 100
    assert len(threads) == 1
