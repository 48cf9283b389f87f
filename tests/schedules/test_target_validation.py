"""A schedule whose input can never pass its target's input schema is refused when
saved, by every writer: the service, the native API and the Conductor endpoint."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from rest_framework.test import APIClient

from schedules.models import Schedule
from schedules.services import schedule_create, schedule_update
from schedules.validation import target_catalogue
from tests.schedules.factories import definition

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def known_targets() -> None:
    """Here the real jobruns registry (registered at ready()) judges targets."""


@pytest.fixture
def api(editor: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(editor)
    return client


def test_the_service_refuses_an_input_its_target_schema_refuses() -> None:
    bad = definition(target="core.sleep", input={"seconds": "a while"})
    with pytest.raises(ValidationError) as raised:
        schedule_create(data=bad, by=None, now=timezone.now())
    message = raised.value.message_dict["input"][0]
    assert "core.sleep" in message
    assert "'a while' is not of type 'number'" in message
    assert not Schedule.objects.exists()


def test_a_fitting_input_saves_and_an_edit_to_a_bad_one_is_refused() -> None:
    good = definition(target="core.sleep", input={"seconds": 1})
    schedule = schedule_create(data=good, by=None, now=timezone.now())
    with pytest.raises(ValidationError) as raised:
        schedule_update(
            schedule=schedule,
            data={"input": {"seconds": -1}},
            by=None,
            now=timezone.now(),
        )
    assert "input" in raised.value.message_dict
    schedule.refresh_from_db()
    assert schedule.input == {"seconds": 1}


def test_switching_the_target_checks_the_kept_input_against_the_new_schema() -> None:
    schedule = schedule_create(
        data=definition(target="core.echo", input={"hours": "many"}),
        by=None,
        now=timezone.now(),
    )
    with pytest.raises(ValidationError) as raised:
        schedule_update(
            schedule=schedule,
            data={"target": "reports.runs_csv"},
            by=None,
            now=timezone.now(),
        )
    assert "reports.runs_csv" in raised.value.message_dict["input"][0]


def test_an_unknown_target_is_named_with_a_close_match() -> None:
    with pytest.raises(ValidationError) as raised:
        schedule_create(
            data=definition(target="core.slep"), by=None, now=timezone.now()
        )
    assert "did you mean 'core.sleep'" in raised.value.message_dict["target"][0]


def test_the_catalogue_lists_services_and_component_actions_with_schemas() -> None:
    rows = {row["name"]: row for row in target_catalogue()}
    assert {"core.sleep", "reports.runs_csv", "woocommerce.list_products"} <= set(rows)
    assert rows["core.sleep"]["input_schema"]["properties"]["seconds"]


def test_the_native_api_answers_400_naming_the_input(api: APIClient) -> None:
    body = definition(name="bad-input", target="core.sleep", input={"seconds": "x"})
    response = api.post("/api/v1/schedules/", body, format="json")
    assert response.status_code == 400, response.content
    problem = response.json()
    assert "input" in problem["errors"], problem
    assert not Schedule.objects.filter(name="bad-input").exists()


def test_the_conductor_endpoint_answers_400_with_its_wire_path(
    api: APIClient,
) -> None:
    response = api.post(
        "/api/scheduler/schedules",
        {
            "name": "conductor-bad-input",
            "cronExpression": "0 0 6 * * ?",
            "startWorkflowRequest": {"name": "core.sleep", "input": {"seconds": "x"}},
        },
        format="json",
    )
    assert response.status_code == 400, response.content
    body = response.json()
    paths = {error["path"] for error in body["validationErrors"]}
    assert paths == {"startWorkflowRequest.input"}
    assert body["status"] == 400
    assert not Schedule.objects.filter(name="conductor-bad-input").exists()
