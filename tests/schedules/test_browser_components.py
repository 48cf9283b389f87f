"""In a real browser, with a real worker: an editor builds a schedule whose target
is a component action, with options and metadata asked of a (fake) shop."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from executions.services import credential_create
from schedules.models import Schedule
from tests.executions.fakeshop import FakeShop

pytestmark = [
    pytest.mark.requires_browser,
    pytest.mark.requires_worker,
    pytest.mark.requires_postgres,
    pytest.mark.requires_redis,
    pytest.mark.django_db(transaction=True),
]
ACTION = "woocommerce.list_products"


@pytest.fixture(autouse=True)
def known_targets() -> None:
    """Here the real jobruns registry judges targets (it knows the action)."""


@pytest.fixture
def shop() -> Iterator[FakeShop]:
    with FakeShop() as running:
        yield running


@pytest.fixture
def worker(start_worker: Any) -> Any:
    # The fake shop listens on 127.0.0.1, which components refuse by default.
    return start_worker(
        queues="executions", extra_env={"HTTP_REQUEST_ALLOW_PRIVATE": "1"}
    )


def _sign_in(page: Any, user: Any, live_server: Any) -> None:
    """A session cookie, not the login page: /admin/login/ uses Django's
    AdminAuthenticationForm, which still turns away non-staff role members."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies(
        [{"name": cookie.key, "value": cookie.value, "url": live_server.url}]
    )
    page.goto("/admin/")
    page.wait_for_selector("#user-tools")


def test_an_editor_picks_a_category_from_the_shop_and_it_lands_in_input(
    page: Any,
    live_server: Any,
    editor: Any,
    shop: FakeShop,
    worker: Any,
    screenshot_dir: Path,
) -> None:
    credential_create(name="myshop", component="woocommerce", fields=shop.cfg())
    credential_create(
        name="wrong-secret",
        component="woocommerce",
        fields=shop.cfg(consumer_secret="cs_wrong_secret_1111"),
    )
    _sign_in(page, editor, live_server)
    page.goto("/admin/schedules/schedule/add/")
    assert page.is_hidden("#component-action")
    page.fill("#id_name", "shop-products")
    page.select_option("#id_kind", "cron")
    page.fill("#id_cron_expression", "0 6 * * *")
    page.fill("#id_time_zone", "Europe/Berlin")
    page.fill("#id_target", ACTION)
    page.wait_for_selector("#component-action", state="visible")
    heading = page.text_content("#component-action-heading")
    assert heading == "Component action: WooCommerce · List products"

    # A credential the shop refuses: the reason is on the page.
    page.select_option("#id_component_credential", "wrong-secret")
    status = page.locator("#id_component_category_status")
    status.filter(has_text="Could not load the options").wait_for(timeout=30_000)
    assert "refused the consumer key and secret (HTTP 401" in status.inner_text()
    page.locator("#component-action").screenshot(
        path=str(screenshot_dir / "schedule-component-action-refused.png")
    )

    page.select_option("#id_component_credential", "myshop")
    status.filter(has_text="3 options loaded").wait_for(timeout=30_000)
    labels = page.locator("#id_component_category option").all_inner_texts()
    assert labels == ["---------", "Uncategorized", "T-shirts", "Mugs"]

    page.select_option("#id_component_category", label="Mugs")
    metadata = page.locator("#component-action-metadata table.component-schema")
    metadata.last.wait_for(timeout=30_000)
    page.screenshot(
        path=str(screenshot_dir / "schedule-component-action.png"), full_page=True
    )
    page.locator("#component-action").screenshot(
        path=str(screenshot_dir / "schedule-component-action-panel.png")
    )
    text = page.text_content("#component-action-metadata")
    assert "What it writes: Product in category 22" in text
    assert "attributes.Material" in text
    assert "one of: Ceramic, Steel" in text
    assert page.input_value("#id_input") == '{"credential":"myshop","category":"22"}'

    page.click("input[name=_save]")
    page.wait_for_selector("#changelist")
    saved = Schedule.objects.get(name="shop-products")
    assert saved.target == ACTION
    assert saved.input == {"credential": "myshop", "category": "22"}


def test_without_a_worker_the_page_says_so_instead_of_waiting_forever(
    page: Any,
    live_server: Any,
    editor: Any,
    shop: FakeShop,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings.EXECUTION_TIME_LIMIT_SECONDS = 1
    monkeypatch.setattr("schedules.admin.PANEL_QUEUE_WAIT_SECONDS", 1)
    credential_create(name="myshop", component="woocommerce", fields=shop.cfg())
    _sign_in(page, editor, live_server)
    page.goto("/admin/schedules/schedule/add/")
    page.fill("#id_target", ACTION)
    page.select_option("#id_component_credential", "myshop")
    status = page.locator("#id_component_category_status")
    status.filter(has_text="Could not load the options").wait_for(timeout=15_000)
    assert "no answer after 2 s: no worker took the request" in status.inner_text()
