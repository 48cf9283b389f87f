"""Schedule admin: a component-action target gets a panel whose values land in input."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from executions.services import credential_create
from schedules.models import Schedule
from tests.schedules.factories import KNOWN_TARGETS

pytestmark = pytest.mark.django_db
Make = Callable[..., Schedule]
ACTION = "woocommerce.list_products"
ADD = "admin:schedules_schedule_add"
SHOP = {
    "url": "https://shop.example.com",
    "consumer_key": "ck_1234567890",
    "consumer_secret": "cs_1234567890",
}


@pytest.fixture(autouse=True)
def known_targets(monkeypatch: pytest.MonkeyPatch) -> frozenset[str]:
    known = KNOWN_TARGETS | {ACTION}
    monkeypatch.setattr("schedules.validation.service_exists", lambda n: n in known)
    return known


@pytest.fixture
def editor_client(client: Client, editor: Any) -> Client:
    client.force_login(editor)
    return client


@pytest.fixture
def myshop() -> Any:
    return credential_create(name="myshop", component="woocommerce", fields=SHOP)


def _change(schedule: Schedule) -> str:
    return reverse("admin:schedules_schedule_change", args=[schedule.pk])


def _panel(response: Any) -> dict[str, Any]:
    """The data the page hands the panel's script (json_script)."""
    found = re.search(
        r'<script id="component-actions" type="application/json">(.*?)</script>',
        response.content.decode(),
        re.DOTALL,
    )
    assert found, "no component-actions data on the page"
    return json.loads(found.group(1))


def _panel_fieldset(response: Any) -> str:
    found = re.search(
        r'<fieldset[^>]*id="component-action"[^>]*>', response.content.decode()
    )
    assert found
    return found.group(0)


def _form(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "shop-products",
        "description": "",
        "kind": "cron",
        "time_zone": "Europe/Berlin",
        "cron_expression": "0 6 * * *",
        "target": ACTION,
        "input": '{"limit": 20}',
        "priority": "0",
        "overlap_policy": "skip",
        "missed_policy": "run_once",
        "catchup_window_seconds": "60",
        "max_retries": "0",
        "retry_delay_seconds": "30",
        **{f"interval_{part}": "0" for part in ("weeks", "days", "hours")},
        **{f"interval_{part}": "0" for part in ("minutes", "seconds")},
        "tags-TOTAL_FORMS": "0",
        "tags-INITIAL_FORMS": "0",
        "tags-MIN_NUM_FORMS": "0",
        "tags-MAX_NUM_FORMS": "1000",
        "component_panel": "1",
        "component_credential": "myshop",
        "component_field_category": "22",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_a_component_action_target_shows_the_panel_with_fields_and_credentials(
    editor_client: Client, make_schedule: Make, myshop: Any
) -> None:
    schedule = make_schedule(
        target=ACTION, input={"credential": "myshop", "category": "22"}
    )
    response = editor_client.get(_change(schedule))
    assert response.status_code == 200
    panel = _panel(response)
    assert panel["current"] == ACTION
    action = panel["actions"][ACTION]
    assert action["component"] == "woocommerce"
    assert action["key"] == "list_products"
    assert action["dynamic_metadata"] is True
    assert action["fields"]["category"]["model"] == "categories"
    assert action["credentials"] == [{"name": "myshop", "verified": None}]
    assert panel["values"] == {"credential": "myshop", "category": "22"}
    assert panel["executions_url"] == "/api/v1/executions/"
    assert " hidden" not in _panel_fieldset(response)
    assert "schedules/schedule_component.js" in response.content.decode()


def test_a_plain_service_target_hides_the_panel_but_still_offers_the_actions(
    editor_client: Client, make_schedule: Make
) -> None:
    schedule = make_schedule(target="reports.nightly")
    response = editor_client.get(_change(schedule))
    panel = _panel(response)
    assert panel["current"] is None
    assert " hidden" in _panel_fieldset(response)
    # Typing a component action into `target` shows the panel without a reload.
    assert ACTION in panel["actions"]


def test_the_panel_never_shows_a_credential_secret(
    editor_client: Client, myshop: Any
) -> None:
    body = editor_client.get(reverse(ADD)).content.decode()
    assert "myshop" in body
    assert SHOP["consumer_secret"] not in body
    assert SHOP["consumer_key"] not in body


def test_chosen_values_are_saved_into_input_next_to_typed_keys(
    editor_client: Client, myshop: Any
) -> None:
    response = editor_client.post(reverse(ADD), _form())
    assert response.status_code == 302, response.content.decode()[-3000:]
    saved = Schedule.objects.get(name="shop-products")
    assert saved.input == {"limit": 20, "credential": "myshop", "category": "22"}


def test_panel_values_win_over_the_same_keys_typed_into_input(
    editor_client: Client, myshop: Any
) -> None:
    typed = '{"credential": "old", "category": "15", "limit": 5}'
    editor_client.post(reverse(ADD), _form(input=typed))
    saved = Schedule.objects.get(name="shop-products")
    assert saved.input == {"limit": 5, "credential": "myshop", "category": "22"}


def test_changing_only_the_category_in_the_panel_updates_input(
    editor_client: Client, make_schedule: Make, myshop: Any
) -> None:
    stored = {"credential": "myshop", "category": "22"}
    schedule = make_schedule(name="shop-products", target=ACTION, input=stored)
    # The textarea still holds the stored input; only the panel changed.
    data = _form(
        input=json.dumps(stored),
        cron_expression=schedule.cron_expression,
        component_field_category="21",
    )
    response = editor_client.post(_change(schedule), data)
    assert response.status_code == 302, response.content.decode()[-3000:]
    schedule.refresh_from_db()
    assert schedule.input == {"credential": "myshop", "category": "21"}


def test_a_missing_credential_is_a_form_error_not_a_500(
    editor_client: Client, myshop: Any
) -> None:
    response = editor_client.post(reverse(ADD), _form(component_credential=""))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Choose a WooCommerce credential" in body
    assert not Schedule.objects.filter(name="shop-products").exists()
    # The page comes back with the panel's values, so nothing typed is lost.
    assert _panel(response)["values"] == {"credential": "", "category": "22"}


def test_a_missing_category_and_an_unknown_credential_are_both_named(
    editor_client: Client,
) -> None:
    response = editor_client.post(
        reverse(ADD),
        _form(component_credential="nosuch", component_field_category=""),
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "No WooCommerce credential is named &#x27;nosuch&#x27;." in body
    assert "Choose Category (input.category)." in body


def test_without_javascript_the_typed_input_is_saved_as_it_is(
    editor_client: Client,
) -> None:
    # The panel is disabled until its script runs, so the marker is not posted.
    typed = '{"credential": "myshop", "category": "15"}'
    data = _form(input=typed, component_panel=None, component_credential=None)
    response = editor_client.post(reverse(ADD), data)
    assert response.status_code == 302
    saved = Schedule.objects.get(name="shop-products")
    assert saved.input == {"credential": "myshop", "category": "15"}


def test_a_plain_service_ignores_panel_values(editor_client: Client) -> None:
    data = _form(target="reports.nightly", input="{}")
    assert editor_client.post(reverse(ADD), data).status_code == 302
    assert Schedule.objects.get(name="shop-products").input == {}


def test_a_viewer_sees_the_schedule_without_the_panel(
    client: Client, viewer: Any, make_schedule: Make
) -> None:
    schedule = make_schedule(target=ACTION, input={"credential": "x", "category": "1"})
    client.force_login(viewer)
    response = client.get(_change(schedule))
    assert response.status_code == 200
    assert 'id="component-actions"' not in response.content.decode()
