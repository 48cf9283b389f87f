"""The job run admin: read-only history, actions with counts, result download."""

from __future__ import annotations

import re
from typing import Any
from unittest import mock

import pytest
from django.test import Client
from django.urls import reverse

from jobruns.models import JobRun
from jobruns.services import jobrun_claim, jobrun_enqueue, jobrun_execute
from tests.conftest import PASSWORD
from tests.jobruns.conftest import NOON


@pytest.fixture
def report_run(db: None) -> JobRun:
    with mock.patch("jobruns.tasks.execute_run.apply_async"):
        run = jobrun_enqueue(service="reports.runs_csv", trigger="cli", now=NOON)
    jobrun_execute(run_id=run.pk, worker="test")
    run.refresh_from_db()
    return run


@pytest.mark.django_db
def test_the_result_file_downloads_only_for_signed_in_staff(
    client: Client, superuser: Any, report_run: JobRun
) -> None:
    url = reverse("admin:jobruns_jobrun_result", args=[report_run.pk])

    anonymous = client.get(url)
    client.login(username=superuser.username, password=PASSWORD)
    signed_in = client.get(url)

    assert anonymous.status_code == 302
    assert "/login/" in anonymous["Location"]
    assert signed_in.status_code == 200
    assert signed_in["Content-Disposition"] == 'attachment; filename="runs.csv"'
    assert b"id,schedule,service" in b"".join(signed_in.streaming_content)  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_the_run_list_and_detail_pages_render_read_only(
    client: Client, superuser: Any, report_run: JobRun
) -> None:
    client.login(username=superuser.username, password=PASSWORD)

    listing = client.get(reverse("admin:jobruns_jobrun_changelist"))
    detail = client.get(reverse("admin:jobruns_jobrun_change", args=[report_run.pk]))

    assert listing.status_code == 200
    assert detail.status_code == 200
    assert b"runs.csv" in detail.content
    assert b'name="_save"' not in detail.content


@pytest.mark.django_db
def test_the_cancel_action_reports_how_many_runs_it_cancelled(
    client: Client, superuser: Any, report_run: JobRun
) -> None:
    with mock.patch("jobruns.tasks.execute_run.apply_async"):
        queued = jobrun_enqueue(service="core.echo", trigger="cli", now=NOON)
    client.login(username=superuser.username, password=PASSWORD)

    response = client.post(
        reverse("admin:jobruns_jobrun_changelist"),
        {
            "action": "cancel_runs",
            "_selected_action": [queued.pk, report_run.pk],
            "apply": "1",  # the confirmation page's answer
        },
        follow=True,
    )

    assert "Cancelled 1 run(s)." in response.content.decode()
    queued.refresh_from_db()
    assert queued.status == JobRun.Status.CANCELLED


@pytest.mark.requires_postgres
@pytest.mark.django_db
def test_the_unfiltered_run_list_counts_from_statistics_and_a_filtered_one_bounded(
    client: Client, superuser: Any, report_run: JobRun, monkeypatch: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from jobruns.admin import EstimatedCountPaginator

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE jobruns_jobrun")  # reltuples known, as autovacuum does
    monkeypatch.setattr(EstimatedCountPaginator, "ESTIMATE_FROM", 1)
    client.login(username=superuser.username, password=PASSWORD)
    url = reverse("admin:jobruns_jobrun_changelist")

    with CaptureQueriesContext(connection) as unfiltered:
        assert client.get(url).status_code == 200
    with CaptureQueriesContext(connection) as filtered:
        assert client.get(url, {"status__exact": "succeeded"}).status_code == 200

    def counts(queries: Any) -> list[str]:
        return [
            q["sql"]
            for q in queries.captured_queries
            if 'FROM "jobruns_jobrun"' in q["sql"] and "COUNT(" in q["sql"]
        ]

    assert counts(unfiltered) == []
    assert any("reltuples" in q["sql"] for q in unfiltered.captured_queries)
    [count] = counts(filtered)
    assert "LIMIT 10001" in count  # exact up to EXACT_COUNT_UP_TO, then estimated


@pytest.mark.django_db
def test_the_schedule_filter_lists_schedules_with_runs_without_distinct_over_runs(
    client: Client, superuser: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from schedules.models import Schedule

    def schedule(name: str) -> Schedule:
        return Schedule.objects.create(
            name=name, kind="interval", interval_hours=1, target="core.echo"
        )

    ran, idle = schedule("ran-once"), schedule("never-ran")
    with mock.patch("jobruns.tasks.execute_run.apply_async"):
        jobrun_enqueue(schedule=ran, trigger="cli", now=NOON)
    client.login(username=superuser.username, password=PASSWORD)

    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("admin:jobruns_jobrun_changelist")).content.decode()

    assert f"schedule__id__exact={ran.pk}" in page
    assert f"schedule__id__exact={idle.pk}" not in page
    distinct = [q["sql"] for q in queries.captured_queries if "DISTINCT" in q["sql"]]
    assert distinct == []


@pytest.mark.django_db
def test_with_many_schedules_the_filter_is_a_name_box_that_filters_by_exact_name(
    client: Client, superuser: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jobruns.admin_list import ScheduleWithRunsFilter
    from schedules.models import Schedule

    # 10,000 schedules drew 10,000 links; past LINKS_MAX the filter is a box.
    monkeypatch.setattr(ScheduleWithRunsFilter, "LINKS_MAX", 2)
    schedules = [
        Schedule.objects.create(
            name=f"feed-{i}", kind="interval", interval_hours=1, target="core.echo"
        )
        for i in range(3)
    ]
    with mock.patch("jobruns.tasks.execute_run.apply_async"):
        for schedule in schedules:
            jobrun_enqueue(schedule=schedule, trigger="cli", now=NOON)
    client.login(username=superuser.username, password=PASSWORD)
    url = reverse("admin:jobruns_jobrun_changelist")

    unfiltered = client.get(url + "?status__exact=queued").content.decode()
    by_name = client.get(url + "?schedule_name=feed-1").content.decode()
    blank = client.get(url + "?schedule_name=+").content.decode()
    by_link = client.get(url + f"?schedule__id__exact={schedules[2].pk}")

    def rows(page: str) -> list[str]:
        return re.findall(r'schedule/\d+/change/">([^<]+)</a>', page)

    assert 'name="schedule_name"' in unfiltered
    assert 'name="status__exact" value="queued"' in unfiltered  # kept on submit
    assert "schedule__id__exact" not in unfiltered  # no link per schedule
    assert rows(unfiltered) == ["feed-2", "feed-1", "feed-0"]
    assert rows(by_name) == ["feed-1"]
    assert 'value="feed-1"' in by_name
    assert '<li class="selected"><a href="?">All</a>' not in by_name
    assert rows(blank) == ["feed-2", "feed-1", "feed-0"]  # a blank box: no filter
    assert rows(by_link.content.decode()) == ["feed-2"]
    assert f'class="selected"><a href="?schedule__id__exact={schedules[2].pk}"' in (
        by_link.content.decode()
    )  # the chosen schedule stays shown as the filter


@pytest.mark.django_db
def test_the_row_checkbox_is_the_markup_django_renders(report_run: JobRun) -> None:
    from django.contrib import admin

    from jobruns.admin import JobRunAdmin

    run_admin = JobRunAdmin(JobRun, admin.site)

    ours = run_admin.action_checkbox(report_run)
    django_own = admin.ModelAdmin.action_checkbox(run_admin, report_run)

    assert ours == django_own


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["superuser", "viewer"])  # with, without actions
@pytest.mark.parametrize("query", ["", "?o=-3&status__exact=queued", "?_popup=1"])
def test_the_run_list_rows_are_the_cells_django_makes(
    request: pytest.FixtureRequest,
    persona: str,
    query: str,
    report_run: JobRun,
    make_schedule: Any,
) -> None:
    from datetime import timedelta

    import time_machine
    from django.contrib.admin.templatetags.admin_list import items_for_result

    from jobruns.admin_list import result_rows

    with mock.patch("jobruns.tasks.execute_run.apply_async"):
        scheduled = make_schedule(name="nightly-report.v2")
        jobrun_enqueue(schedule=scheduled, trigger="manual", now=NOON)
        running = jobrun_enqueue(service="core.echo", trigger="api", now=NOON)
    assert jobrun_claim(run_id=running.pk, worker="w", now=NOON, task_id="t-1")
    client = Client()

    # Frozen: a running run's "s so far" must read the same on both sides.
    with time_machine.travel(NOON + timedelta(minutes=3), tick=False):
        client.force_login(request.getfixturevalue(persona))
        response = client.get(reverse("admin:jobruns_jobrun_changelist") + query)
        changelist = response.context_data["cl"]  # type: ignore[attr-defined]
        ours = [list(row) for row in result_rows(changelist)]
        django_own = [
            list(items_for_result(changelist, run, None))
            for run in changelist.result_list
        ]

    assert ours == django_own
    assert len(ours) == (1 if "queued" in query else 3)
    page = response.content.decode()
    for cells in django_own:
        assert "<tr>" + "".join(cells) + "</tr>" in page


@pytest.mark.django_db
def test_the_run_list_asks_the_same_statements_for_one_run_or_many(
    client: Client, superuser: Any, report_run: JobRun, make_schedule: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(superuser)
    listing = reverse("admin:jobruns_jobrun_changelist")
    with CaptureQueriesContext(connection) as one_run:
        assert client.get(listing).status_code == 200
    with mock.patch("jobruns.tasks.execute_run.apply_async"):
        for trigger in ("manual", "api", "cli"):
            jobrun_enqueue(schedule=make_schedule(), trigger=trigger, now=NOON)
        running = jobrun_enqueue(service="core.echo", trigger="api", now=NOON)
    assert jobrun_claim(run_id=running.pk, worker="w", now=NOON, task_id="t-1")

    with CaptureQueriesContext(connection) as five_runs:
        page = client.get(listing).content.decode()

    assert page.count('class="action-select"') == 5
    assert len(five_runs) == len(one_run)


def test_cell_html_escapes_as_format_html_does() -> None:
    from django.utils.html import format_html
    from django.utils.safestring import mark_safe
    from django.utils.translation import gettext_lazy

    from jobruns.admin_list import cell_html

    class Marked:
        def __html__(self) -> str:
            return "<em>own</em>"

    template = '<a href="{}" title="{}">{} {} {} {}</a>'
    values = (
        "/x?a=1&b='2'",
        '<script>"q"</script>',
        mark_safe("<b>safe</b>"),
        12345,
        gettext_lazy("Select this object for an action - {}"),
        Marked(),
    )

    assert cell_html(template, *values) == format_html(template, *values)
    assert "&lt;script&gt;&quot;q&quot;" in cell_html(template, *values)


def test_a_change_link_is_what_reverse_answers_under_any_script_prefix() -> None:
    from django.urls import get_script_prefix, set_script_prefix

    from jobruns.admin_list import change_url

    before = get_script_prefix()
    try:
        for prefix in ("/", "/scheduler/"):
            set_script_prefix(prefix)
            for pk in (7, 12345):
                assert change_url("admin:jobruns_jobrun_change", pk) == reverse(
                    "admin:jobruns_jobrun_change", args=[pk]
                )
            assert reverse("admin:jobruns_jobrun_change", args=[7]).startswith(prefix)
    finally:
        set_script_prefix(before)


@pytest.mark.django_db
def test_a_run_list_sorted_by_a_column_breaks_ties_by_time_in_its_direction(
    client: Client, superuser: Any
) -> None:
    from datetime import timedelta

    with mock.patch("jobruns.tasks.execute_run.apply_async"):
        runs = [
            jobrun_enqueue(
                service="core.echo", trigger="cli", now=NOON + timedelta(minutes=i)
            )
            for i in range(3)
        ]  # all queued: the status column ties
    client.login(username=superuser.username, password=PASSWORD)
    url = reverse("admin:jobruns_jobrun_changelist")

    def listed(order: str) -> list[int]:
        page = client.get(url, {"o": order}).content.decode()
        return [run.pk for run in sorted(runs, key=lambda r: page.index(f"#{r.pk}<"))]

    # Column 3 is the status (0 is the checkbox): oldest first ascending,
    # newest first descending, as the (status, queued_at, id) index reads.
    assert listed("3") == [run.pk for run in runs]
    assert listed("-3") == [run.pk for run in reversed(runs)]


@pytest.mark.django_db
def test_a_row_link_carries_the_lists_filters_as_django_would(
    client: Client, superuser: Any, report_run: JobRun
) -> None:
    from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
    from django.utils.html import escape

    client.login(username=superuser.username, password=PASSWORD)
    listing = reverse("admin:jobruns_jobrun_changelist")
    query = "o=-3&status__exact=succeeded"

    page = client.get(f"{listing}?{query}").content.decode()

    django_own = add_preserved_filters(
        {"preserved_filters": f"_changelist_filters={query.replace('&', '%26')}",
         "opts": JobRun._meta},
        reverse("admin:jobruns_jobrun_change", args=[report_run.pk]),
    )  # fmt: skip
    assert "_changelist_filters=o%3D-3%26status__exact%3Dsucceeded" in django_own
    assert f'href="{escape(django_own)}"' in page
