"""In a real browser on the live server: the dashboard, the settings page, the docs.

Runs are made through the jobruns services; the page's figures and the SVG
bars' data attributes must say the same. Every page is also checked for
JavaScript errors and for requests to any host but the live server.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from core.accounts import profile_set_time_zone
from jobruns.models import JobRun
from tests.scheduler_site.conftest import MakeRun, MakeSchedule

pytestmark = [
    pytest.mark.requires_browser,
    pytest.mark.requires_postgres,
    pytest.mark.django_db(transaction=True),
]
Status = JobRun.Status
WIDTHS = {"1280": (1280, 900), "390": (390, 844)}


def _sign_in(page: Any, user: Any, live_server: Any) -> None:
    """A session cookie made by Django's test client, then the dashboard."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies(
        [{"name": cookie.key, "value": cookie.value, "url": live_server.url}]
    )
    page.goto("/admin/")
    page.wait_for_selector("#dashboard-figures")


class PageWatch:
    """Console errors, uncaught exceptions and requests to other hosts."""

    def __init__(self, page: Any, live_server: Any) -> None:
        self.host = urlsplit(live_server.url).hostname
        self.errors: list[str] = []
        self.foreign: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on("request", self._request)
        page.on("response", self._response)

    def _response(self, response: Any) -> None:
        if response.status >= 400:
            self.errors.append(f"{response.status} {response.url}")

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")

    def _request(self, request: Any) -> None:
        host = urlsplit(request.url).hostname
        if request.url.startswith(("data:", "blob:", "about:")):
            return
        if host not in {self.host, "localhost", "127.0.0.1"}:
            self.foreign.append(request.url)


def _screenshots(page: Any, name: str, screenshot_dir: Path) -> None:
    for label, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(300)  # let the layout settle at the new width
        # Readable on a phone: nothing wider than the screen.
        scroll = page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width, f"{name} at {width}px scrolls sideways ({scroll}px)"
        shot = screenshot_dir / f"{name}-{label}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
    # What a phone shows first, at full size.
    page.screenshot(path=str(screenshot_dir / f"{name}-390-top.png"))


def _hour(instant: Any) -> str:
    return instant.replace(minute=0, second=0, microsecond=0).isoformat()


def test_the_dashboard_chart_and_counts_match_runs_made_through_the_services(
    page: Any,
    live_server: Any,
    superuser: Any,
    make_schedule: MakeSchedule,
    make_run: MakeRun,
    screenshot_dir: Path,
) -> None:
    now = timezone.now()
    main = make_schedule(now=now - timedelta(days=1), name="nightly-report")
    broken = make_schedule(now=now - timedelta(days=1), name="shop-sync")
    plan = [
        (main, Status.SUCCEEDED, 1), (main, Status.SUCCEEDED, 2),
        (main, Status.SUCCEEDED, 2), (main, Status.SKIPPED, 3),
        (main, Status.CANCELLED, 5), (main, Status.TIMED_OUT, 7),
        (main, Status.QUEUED, 9), (main, Status.IN_PROGRESS, 0.2),
        (broken, Status.FAILED, 4), (broken, Status.FAILED, 6),
        (broken, Status.FAILED, 8), (main, Status.SUCCEEDED, 30),
    ]  # fmt: skip
    made = [
        make_run(schedule, status, at=now - timedelta(hours=hours))
        for schedule, status, hours in plan
    ]
    in_window = [run for run in made if run.queued_at > now - timedelta(hours=20)]
    expected_bars = Counter((_hour(run.queued_at), run.status) for run in in_window)
    expected_counts = Counter(run.status for run in in_window)
    watch = PageWatch(page, live_server)

    _sign_in(page, superuser, live_server)

    bars = {
        (bar["column"], bar["status"]): int(bar["count"])
        for bar in page.eval_on_selector_all(
            "svg.run-chart rect.bar", "els => els.map(e => ({...e.dataset}))"
        )
    }
    assert bars == dict(expected_bars)
    for status in Status.values:
        figure = page.inner_text(f'[data-figure="runs-{status}"] .figure-value')
        assert int(figure) == expected_counts.get(status, 0), status
    assert "shop-sync" in page.inner_text("#dash-failing + ul")
    assert page.inner_text('[data-figure="queue-depth"]') == "1 queued"
    failed_link = page.get_attribute('[data-figure="runs-failed"]', "href")
    page.goto(failed_link)
    assert page.locator("#result_list tbody tr").count() == 3
    page.goto("/admin/")

    # Live refresh: a new failure shows up without a reload.
    before = page.inner_text('[data-figure="updated"]')
    make_run(broken, Status.FAILED, at=timezone.now())
    page.wait_for_function(
        "() => document.querySelector('[data-figure=\"runs-failed\"] .figure-value')"
        ".textContent.trim() === '4'",
        timeout=15_000,
    )
    assert page.inner_text('[data-figure="updated"]') != before

    _screenshots(page, "dashboard", screenshot_dir)
    assert watch.errors == []
    assert watch.foreign == []


def test_a_viewer_sees_the_dashboard_but_no_system_tables(
    page: Any, live_server: Any, viewer: Any
) -> None:
    _sign_in(page, viewer, live_server)

    assert page.is_visible('[data-figure="runs-failed"]')
    # A refresh keeps keyboard focus on the link the user had reached.
    page.focus('[data-figure="runs-failed"]')
    before = page.inner_text('[data-figure="updated"]')
    page.wait_for_function(
        f"() => document.querySelector('[data-figure=\"updated\"]').textContent"
        f" !== {before!r}",
        timeout=15_000,
    )
    focused = page.evaluate("document.activeElement.dataset.figure")
    assert focused == "runs-failed"
    assert page.locator("a[href*='django_celery_beat']").count() == 0
    response = page.goto("/admin/django_celery_beat/periodictask/")
    assert response.status == 403


def test_anonymous_api_docs_send_the_browser_to_the_login_page(page: Any) -> None:
    for url in ("/api/docs/", "/api/redoc/", "/api/schema/"):
        page.goto(url)
        assert urlsplit(page.url).path == "/admin/login/", url
        assert f"next={url}" in page.url


def test_choosing_tokyo_on_the_settings_page_shows_jst_on_the_dashboard(
    page: Any,
    live_server: Any,
    operator: Any,
    make_schedule: MakeSchedule,
    screenshot_dir: Path,
) -> None:
    make_schedule(now=timezone.now(), name="tokyo-morning")
    watch = PageWatch(page, live_server)
    _sign_in(page, operator, live_server)
    page.goto("/admin/settings/")

    # Keyboard only: type into the zone picker, choose the clock, press Enter.
    page.focus("#id_time_zone")
    page.keyboard.press("Control+A")
    page.keyboard.type("Asia/Tokyo")
    page.check("#id_clock_0")
    page.keyboard.press("Enter")

    page.wait_for_selector(".messagelist")
    assert "Time zone set to Asia/Tokyo" in page.inner_text(".messagelist")
    assert page.input_value("#id_time_zone") == "Asia/Tokyo"
    assert page.inner_text("#settings-now").endswith(" JST")
    _screenshots(page, "settings", screenshot_dir)

    page.goto("/admin/")
    assert page.inner_text('[data-figure="updated"]').endswith(" JST")
    next_fire = page.inner_text("#dash-next ~ .table-scroll time")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d JST", next_fire)
    assert watch.errors == []
    assert watch.foreign == []


def test_a_typo_in_the_zone_is_a_form_error_not_a_save(
    page: Any, live_server: Any, operator: Any
) -> None:
    _sign_in(page, operator, live_server)
    page.goto("/admin/settings/")
    page.fill("#id_time_zone", "Asia/Tokio")
    page.click("input[type=submit]")

    assert "is not a time zone name" in page.inner_text(".errorlist")
    operator.profile.refresh_from_db()
    assert operator.profile.time_zone == "UTC"


def test_redoc_and_the_date_widgets_load_nothing_from_other_hosts_and_log_no_errors(
    page: Any, live_server: Any, superuser: Any
) -> None:
    profile_set_time_zone(user=superuser, time_zone="Asia/Tokyo")  # browser: UTC
    watch = PageWatch(page, live_server)
    _sign_in(page, superuser, live_server)

    # Django's "You are 9 hours behind server time" note is not shown.
    page.goto("/admin/scheduler_site/apitoken/add/")
    page.wait_for_selector(".datetimeshortcuts")
    assert page.locator(".timezonewarning").count() >= 1  # Django added it...
    assert page.locator(".timezonewarning:visible").count() == 0  # ...unseen
    assert "behind server time" not in page.inner_text("#content")

    page.goto("/api/redoc/")
    page.wait_for_selector("h1", timeout=20_000)  # the API's title, drawn by ReDoc
    page.wait_for_load_state("networkidle")
    assert (watch.errors, watch.foreign) == ([], [])


def test_focus_stays_on_a_figure_whose_link_changed_in_the_refresh(
    page: Any, live_server: Any, viewer: Any
) -> None:
    # The runs' links carry the first hour counted, which moves on the hour:
    # a refresh just after it brought other hrefs and lost the user's focus.
    def moved_hour(route: Any) -> None:
        answer = route.fetch()
        body = answer.text().replace("queued_at__gte=", "queued_at__gte=1")
        route.fulfill(response=answer, body=body)

    _sign_in(page, viewer, live_server)
    page.route("**/dashboard/figures/**", moved_hour)
    page.focus('[data-figure="runs-failed"]')
    href = page.get_attribute('[data-figure="runs-failed"]', "href")
    page.wait_for_function(
        "href => document.querySelector('[data-figure=\"runs-failed\"]')"
        ".getAttribute('href') !== href",
        arg=href,
        timeout=15_000,
    )

    assert page.evaluate("document.activeElement.dataset.figure") == "runs-failed"
