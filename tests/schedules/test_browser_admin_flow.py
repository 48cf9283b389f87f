"""An operator's day in a real browser, with a real worker: build a schedule while
the preview follows the typing in their own zone, run it now, watch the run finish
without reloading, download its result, retry a failure and cancel a running run.

Screenshots of the pages at 1280 px and 390 px go to var/screenshots/."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from core.accounts import profile_set_time_zone
from jobruns.models import JobRun
from jobruns.services import jobrun_cancel, jobrun_enqueue
from schedules.models import Schedule
from schedules.services import schedule_create

pytestmark = [
    pytest.mark.requires_browser,
    pytest.mark.requires_worker,
    pytest.mark.requires_postgres,
    pytest.mark.requires_redis,
    pytest.mark.django_db(transaction=True),
]
WIDE, NARROW = {"width": 1280, "height": 900}, {"width": 390, "height": 844}


@pytest.fixture(autouse=True)
def known_targets() -> None:
    """Here the real jobruns registry judges targets."""


@pytest.fixture
def console_errors(page: Any) -> list[str]:
    errors: list[str] = []

    def record(message: Any) -> None:
        url = str(message.location.get("url", ""))
        # Not script errors: the browser's own favicon probe (the site template
        # names no icon), and the preview API's 400 for a cron typed wrong on
        # purpose, which the page shows in place.
        expected = url.endswith("/favicon.ico") or (
            url.endswith("/api/v1/schedules/preview/") and "400" in message.text
        )
        if message.type == "error" and not expected:
            errors.append(f"{message.text} at {url}")

    page.on("console", record)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def _sign_in(page: Any, user: Any, live_server: Any) -> None:
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies(
        [{"name": cookie.key, "value": cookie.value, "url": live_server.url}]
    )


def _shots(page: Any, directory: Path, name: str) -> None:
    """The page at 1280 and 390 px; at 1280 nothing may scroll sideways."""
    page.set_viewport_size(NARROW)
    page.screenshot(path=str(directory / f"{name}-390.png"), full_page=True)
    page.set_viewport_size(WIDE)
    page.screenshot(path=str(directory / f"{name}-1280.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= WIDE["width"], f"{name} scrolls sideways at 1280 px: {width}"
    # Django's result table scrolls inside its own box: it must not need to.
    overflow = page.evaluate(
        "Math.max(0, ...[...document.querySelectorAll('.results')]"
        ".map(box => box.scrollWidth - box.clientWidth))"
    )
    assert overflow <= 1, f"{name}: the table is {overflow} px too wide at 1280 px"


def _first_fire(page: Any) -> str:
    return str(
        page.inner_text("#schedule-preview tbody tr:first-child td:nth-child(2)")
    )


def _wait_for_status(run: JobRun, status: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status == status:
            return
        time.sleep(0.2)
    raise AssertionError(f"run #{run.pk} is {run.status}, not {status}")


def test_an_operator_in_tokyo_builds_runs_and_downloads_a_report(
    page: Any,
    live_server: Any,
    editor: Any,
    celery_worker: Any,
    console_errors: list[str],
    screenshot_dir: Path,
) -> None:
    profile_set_time_zone(user=editor, time_zone="Asia/Tokyo")
    _sign_in(page, editor, live_server)
    page.set_viewport_size(WIDE)
    page.goto("/admin/schedules/schedule/add/")
    assert page.input_value("#id_time_zone") == "Asia/Tokyo"  # the user's zone

    page.fill("#id_name", "tokyo-report")
    page.select_option("#id_kind", "cron")
    page.fill("#id_time_zone", "Europe/Berlin")
    page.fill("#id_cron_expression", "0 9 * * *")
    # 09:00 in Berlin (CET, UTC+1) is 17:00 in Tokyo.
    page.wait_for_function(
        "document.querySelector('#schedule-preview tbody td:nth-child(2)')"
        "?.textContent.includes('17:00:00')"
    )
    assert "your zone (Asia/Tokyo)" in page.text_content("#schedule-preview thead")
    assert page.locator("#schedule-preview tbody tr").count() == 10
    # Typing on: the preview follows, still in Tokyo time.
    page.fill("#id_cron_expression", "30 9 * * *")
    page.wait_for_function(
        "document.querySelector('#schedule-preview tbody td:nth-child(2)')"
        "?.textContent.includes('17:30:00')"
    )
    assert "17:30:00 JST" in _first_fire(page)
    # A mistake is shown in place, under the field, while typing.
    page.fill("#id_cron_expression", "61 9 * * *")
    page.wait_for_selector("#cron-live-error")
    assert "61" in page.inner_text("#cron-live-error")
    page.fill("#id_cron_expression", "30 9 * * *")
    page.wait_for_selector("#cron-live-error", state="detached")

    page.fill("#id_target", "reports.runs_csv")
    page.wait_for_selector("#target-info details")
    assert "CSV file of run history" in page.inner_text("#target-info")
    page.locator("#schedule-preview table").wait_for()
    _shots(page, screenshot_dir, "schedule-form")
    # Close-ups of the live parts, which the full pages show small.
    for size, suffix in ((WIDE, "1280"), (NARROW, "390")):
        page.set_viewport_size(size)
        for part, selector in (
            ("preview", "#schedule-preview"),
            ("target", ".field-target"),
        ):
            page.locator(selector).screenshot(
                path=str(screenshot_dir / f"schedule-form-{part}-{suffix}.png")
            )
    page.set_viewport_size(WIDE)

    page.click("input[name=_save]")
    page.wait_for_selector("#changelist")
    schedule = Schedule.objects.get(name="tokyo-report")
    assert schedule.cron_expression == "30 9 * * *"
    assert schedule.target == "reports.runs_csv"

    page.goto(f"/admin/schedules/schedule/{schedule.pk}/change/")
    page.click("#content-main .object-tools a.run-now-link")
    page.fill("#id_args", 'alpha "beta gamma"')
    page.click("#run-now-submit")
    page.wait_for_selector("#run-page")
    run = JobRun.objects.get(schedule=schedule)
    assert run.args == ["alpha", "beta gamma"]
    # Mark this document: a reload would lose the mark.
    page.evaluate("window.__sameDocument = true")
    page.wait_for_selector("#run-status .status-succeeded", timeout=30_000)
    assert page.evaluate("window.__sameDocument") is True
    page.wait_for_selector("#run-result a")
    assert "JST" in page.inner_text("#run-started")
    assert "JST INFO" in page.inner_text("#run-log")  # log lines in Tokyo time too
    with page.expect_download() as download_info:
        page.click("#run-result a")
    download = download_info.value
    assert download.suggested_filename.endswith(".csv")
    content = Path(download.path()).read_text()
    assert content.startswith("id,schedule,service")
    _shots(page, screenshot_dir, "run-page")

    page.goto("/admin/schedules/schedule/")
    page.wait_for_selector("#result_list .status-succeeded")
    assert "JST" in page.inner_text("#result_list")
    _shots(page, screenshot_dir, "schedules-list")
    page.goto("/admin/jobruns/jobrun/")
    _shots(page, screenshot_dir, "runs-list")
    assert console_errors == []


def test_an_operator_retries_a_failed_run_and_cancels_a_running_one(
    page: Any,
    live_server: Any,
    operator: Any,
    celery_worker: Any,
    console_errors: list[str],
) -> None:
    now = timezone.now()
    failing = schedule_create(
        data={"name": "always-fails", "kind": "cron", "cron_expression": "0 3 * * *",
              "target": "core.fail", "input": {"message": "vendor said no"}},
        by=None, now=now,
    )  # fmt: skip
    sleeping = schedule_create(
        data={"name": "long-sleep", "kind": "cron", "cron_expression": "0 4 * * *",
              "target": "core.sleep", "input": {"seconds": 60}},
        by=None, now=now,
    )  # fmt: skip
    napping = schedule_create(
        data={"name": "nap", "kind": "cron", "cron_expression": "0 5 * * *",
              "target": "core.sleep", "input": {"seconds": 60}},
        by=None, now=now,
    )  # fmt: skip
    failed = jobrun_enqueue(schedule=failing, trigger="api", now=now)
    _wait_for_status(failed, "failed")
    _sign_in(page, operator, live_server)

    page.goto(f"/admin/jobruns/jobrun/{failed.pk}/change/")
    assert "vendor said no" in page.inner_text("#run-error")
    page.click(".object-tools a.run-retry")
    page.wait_for_selector("#confirm-submit")
    assert JobRun.objects.filter(retry_of=failed).count() == 0  # asked first
    page.click("#confirm-submit")
    page.wait_for_selector("#run-page")
    retry = JobRun.objects.get(retry_of=failed)
    assert page.url.endswith(f"/admin/jobruns/jobrun/{retry.pk}/change/")
    assert retry.attempt == 2
    # The retry fails too; its page turns red without a reload.
    page.wait_for_selector("#run-status .status-failed", timeout=30_000)
    assert page.locator(".run-attempts li").count() == 2

    # The run list follows a running run too, without a reload.
    listed = jobrun_enqueue(schedule=napping, trigger="api", now=timezone.now())
    _wait_for_status(listed, "in_progress")
    page.goto("/admin/jobruns/jobrun/")
    row = f".run-status[data-run='{listed.pk}']"
    page.wait_for_selector(f"{row} .status-in_progress")
    page.evaluate("window.__sameDocument = true")
    jobrun_cancel(run=listed, by="test", now=timezone.now())
    page.wait_for_selector(f"{row} .status-cancelled")
    assert page.evaluate("window.__sameDocument") is True

    running = jobrun_enqueue(schedule=sleeping, trigger="api", now=timezone.now())
    _wait_for_status(running, "in_progress")
    page.goto(f"/admin/jobruns/jobrun/{running.pk}/change/")
    assert page.locator("#run-status .status-in_progress").count() == 1
    page.click(".object-tools a.run-cancel")
    page.click("#confirm-submit")
    page.wait_for_selector("#run-status .status-cancelled")
    running.refresh_from_db()
    assert running.status == JobRun.Status.CANCELLED
    assert console_errors == []


def test_with_many_schedules_an_operator_finds_runs_by_typing_the_schedule_name(
    page: Any,
    live_server: Any,
    operator: Any,
    screenshot_dir: Path,
    console_errors: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from unittest import mock

    from jobruns.admin_list import ScheduleWithRunsFilter

    # Past LINKS_MAX schedules with runs the sidebar is a name box, not a link
    # per schedule (10,000 schedules drew 10,000 links).
    monkeypatch.setattr(ScheduleWithRunsFilter, "LINKS_MAX", 2)
    now = timezone.now()
    with mock.patch("jobruns.tasks.execute_run.apply_async"):
        for name in ("orders-eu", "orders-us", "stock-sync"):
            schedule = Schedule.objects.create(
                name=name, kind="interval", interval_hours=1, target="core.echo"
            )
            jobrun_enqueue(schedule=schedule, trigger="cli", now=now)
    _sign_in(page, operator, live_server)
    page.goto("/admin/jobruns/jobrun/?status__exact=queued")

    page.fill("#schedule-name", "orders-us")
    page.click("form.run-schedule-name button")
    page.wait_for_url("**schedule_name=orders-us**")

    names = page.locator("#result_list td.field-schedule_link a").all_inner_texts()
    assert names == ["orders-us"]
    assert "status__exact=queued" in page.url  # the other filter stayed
    assert page.input_value("#schedule-name") == "orders-us"
    _shots(page, screenshot_dir, "runs-list-schedule-name")
    assert console_errors == []
