"""Shared fixtures: personas and the real services (Postgres, Redis, worker, browser).

A test that needs a service carries a marker (``requires_postgres``,
``requires_redis``, ``requires_worker``, ``requires_browser``). When the service
is absent the test is skipped with the reason; with ``REQUIRE_SERVICES=1`` (CI)
it fails instead, so nothing silently stops being tested.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.support.services import (
    CeleryWorkerProcess,
    broker_unreachable_reason,
    browser_unavailable_reason,
    database_url_for_subprocess,
    redis_unavailable_reason,
    service_missing,
)

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "var" / "screenshots"


@cache
def _unavailable(marker: str) -> str | None:
    from django.conf import settings

    if marker == "requires_postgres":
        engine = settings.DATABASES["default"]["ENGINE"]
        if "postgresql" not in engine:
            return "needs PostgreSQL: set DATABASE_URL=postgres://postgres@127.0.0.1:5432/test"
        return None
    if marker == "requires_redis":
        return redis_unavailable_reason()
    if marker == "requires_worker":
        return broker_unreachable_reason()
    if marker == "requires_browser":
        return browser_unavailable_reason()
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in item.iter_markers():
        if not marker.name.startswith("requires_"):
            continue
        reason = _unavailable(marker.name)
        if reason is not None:
            service_missing(reason)


# --- Personas ----------------------------------------------------------------------
PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """PBKDF2's deliberate slowness buys nothing in tests and costs minutes."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def superuser(django_user_model: Any) -> Any:
    return django_user_model.objects.create_superuser(
        username="alice-admin", email="alice@example.com", password=PASSWORD
    )


# --- A real Celery worker --------------------------------------------------
@pytest.fixture
def start_worker(django_db_setup: None, django_db_blocker: Any) -> Iterator[Any]:
    """Start real ``celery worker`` processes on the test database; stop them after."""
    started: list[CeleryWorkerProcess] = []

    def start(**options: Any) -> CeleryWorkerProcess:
        with django_db_blocker.unblock():
            worker = CeleryWorkerProcess(
                database_url=database_url_for_subprocess(), **options
            )
            worker.start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def celery_worker(start_worker: Any) -> CeleryWorkerProcess:
    """One real worker consuming every queue; the test must use ``transactional_db``."""
    return start_worker()


# --- A real browser ---------------------------------------------------------
@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; Django's ORM refuses
    # to run next to one unless told the test process knows what it is doing.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Any, live_server: Any) -> Iterator[Any]:
    """A fresh browser page; ``page.base_url`` is the live server's address."""
    context = chromium.new_context(base_url=live_server.url, timezone_id="UTC")
    browser_page = context.new_page()
    browser_page.set_default_timeout(15_000)
    yield browser_page
    context.close()


@pytest.fixture
def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def _member_of(django_user_model: Any, username: str, role: str) -> Any:
    from django.apps import apps
    from django.contrib.auth.models import Group

    from core.roles import sync_role_groups

    if not Group.objects.filter(name=role).exists():
        # Transactional tests flush the tables a data migration filled.
        sync_role_groups(apps)

    user = django_user_model.objects.create_user(username=username, password=PASSWORD)
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def viewer(django_user_model: Any) -> Any:
    return _member_of(django_user_model, "vera-viewer", "viewer")


@pytest.fixture
def operator(django_user_model: Any) -> Any:
    return _member_of(django_user_model, "otto-operator", "operator")


@pytest.fixture
def editor(django_user_model: Any) -> Any:
    return _member_of(django_user_model, "edda-editor", "editor")


@pytest.fixture
def outsider(django_user_model: Any) -> Any:
    """Signed in, in no group: may do nothing but read their own profile."""
    return django_user_model.objects.create_user(username="olga-outsider")


# --- Say in the output that the real-service tests ran -------------------------------
_SERVICE_OUTCOMES: dict[str, dict[str, int]] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "call" and not (
        report.when == "setup" and report.outcome != "passed"
    ):
        return
    for marker in report.keywords:
        if marker.startswith("requires_"):
            outcomes = _SERVICE_OUTCOMES.setdefault(marker, {})
            outcomes[report.outcome] = outcomes.get(report.outcome, 0) + 1


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _SERVICE_OUTCOMES:
        return
    terminalreporter.section("tests on real services")
    for marker in sorted(_SERVICE_OUTCOMES):
        counts = ", ".join(
            f"{n} {outcome}" for outcome, n in sorted(_SERVICE_OUTCOMES[marker].items())
        )
        terminalreporter.write_line(f"{marker}: {counts}")


@pytest.fixture
def dispatcher() -> Iterator[Callable[[], None]]:
    """Beat's dispatcher loop, started in a thread with its own DB connection."""
    from django.db import connection

    from jobruns.beat import dispatch_tick

    stop = threading.Event()
    threads: list[threading.Thread] = []

    def loop() -> None:
        try:
            while not stop.is_set():
                stop.wait(dispatch_tick())
        finally:
            connection.close()

    def start() -> None:
        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        threads.append(thread)

    yield start
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
