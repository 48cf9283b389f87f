"""Admin pages of core and executions: one way of showing times, stored values
masked as the API masks them, the settings page, the docs' login redirect."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from core.accounts import api_token_create, profile_set_time_zone
from core.models import AuditEvent
from core.services import worker_heartbeat_record
from core.timefmt import format_instant, hour12_preference
from executions.models import Execution
from executions.services import credential_create, execution_create

pytestmark = pytest.mark.django_db
SECRET = "cs_abcdefghijkl9876"
KEY = "ck_0123456789wxyz"
SECONDS_AND_ZONE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d JST")


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def credential(superuser: Any) -> Any:
    return credential_create(
        name="myshop",
        component="woocommerce",
        fields={
            "url": "https://shop.example",
            "consumer_key": KEY,
            "consumer_secret": SECRET,
        },
        by=superuser,
    )


def test_a_viewer_sees_a_credentials_fields_masked_exactly_as_the_api_does(
    viewer: Any, credential: Any
) -> None:
    api = APIClient()
    api.force_authenticate(viewer)
    answer = api.get(f"/api/v1/credentials/{credential.name}/")
    assert answer.status_code == 200, answer.content
    from_api = answer.json()["fields"]

    html = (
        _client(viewer)
        .get(f"/admin/executions/credential/{credential.pk}/change/")
        .content.decode()
    )

    assert from_api["consumer_secret"].endswith("9876")
    for name, shown in from_api.items():
        assert f"<dt>{name}</dt><dd>{shown}</dd>" in html
    assert SECRET not in html
    assert KEY not in html
    stored = html.split('class="key-values"')[1].split("</dl>")[0]
    assert "None" not in stored
    assert "{'" not in stored


def test_audit_events_show_seconds_and_zone_and_changes_as_json(
    viewer: Any, credential: Any
) -> None:
    profile_set_time_zone(user=viewer, time_zone="Asia/Tokyo")
    event = AuditEvent.objects.latest("at")
    client = _client(viewer)

    listing = client.get("/admin/scheduler_site/auditevent/").content.decode()
    page = client.get(
        f"/admin/scheduler_site/auditevent/{event.pk}/change/"
    ).content.decode()
    history = client.get(
        f"/admin/executions/credential/{credential.pk}/history/"
    ).content.decode()

    for html in (listing, page, history):
        assert SECONDS_AND_ZONE.search(html), html[-3000:]
    assert "{'" not in page
    assert "None" not in page.split("changes")[-1]


def test_tokens_and_heartbeats_are_listed_in_the_users_zone(superuser: Any) -> None:
    profile_set_time_zone(user=superuser, time_zone="Asia/Tokyo")
    token, _ = api_token_create(user=superuser, name="ci")
    seen = worker_heartbeat_record(hostname="w1", now=timezone.now())
    client = _client(superuser)

    tokens = client.get("/admin/scheduler_site/apitoken/").content.decode()
    token_page = client.get(
        f"/admin/scheduler_site/apitoken/{token.pk}/change/"
    ).content.decode()
    heartbeats = client.get("/admin/scheduler_site/workerheartbeat/").content.decode()

    with timezone.override("Asia/Tokyo"):
        assert format_instant(token.created_at) in tokens
        assert format_instant(token.created_at) in token_page
        assert format_instant(seen.seen_at) in heartbeats


def test_the_token_expiry_input_says_which_zone_it_is_read_in(superuser: Any) -> None:
    profile_set_time_zone(user=superuser, time_zone="Asia/Tokyo")

    html = (
        _client(superuser).get("/admin/scheduler_site/apitoken/add/").content.decode()
    )

    assert "Date and time in Asia/Tokyo." in html


def test_an_executions_config_and_result_read_as_json_not_python(
    superuser: Any, credential: Any
) -> None:
    execution = execution_create(
        component="woocommerce",
        method=Execution.Method.VERIFY_CREDENTIALS,
        credential=credential.pk,
        requested_by=superuser,
        via=Execution.Via.ADMIN,
        now=timezone.now(),
        dispatch=False,
    )
    html = (
        _client(superuser)
        .get(f"/admin/executions/execution/{execution.pk}/change/")
        .content.decode()
    )

    assert '<pre class="json-value">' in html
    assert "{'" not in html
    assert SECRET not in html


# --- the settings page ---------------------------------------------------------------
def test_saving_settings_names_the_zone_just_chosen(operator: Any) -> None:
    client = _client(operator)

    response = client.post(
        "/admin/settings/", {"time_zone": "Asia/Tokyo", "clock": "12"}, follow=True
    )

    assert "Time zone set to Asia/Tokyo, 12-hour clock." in response.content.decode()
    operator.profile.refresh_from_db()
    assert (operator.profile.time_zone, operator.profile.hour12) == ("Asia/Tokyo", True)
    dashboard = client.get("/admin/").content.decode()
    assert re.search(r"\d\d:\d\d:\d\d [AP]M JST", dashboard)
    assert hour12_preference.get() is False  # reset after the request


def test_a_zone_that_does_not_exist_is_a_form_error(operator: Any) -> None:
    response = _client(operator).post(
        "/admin/settings/", {"time_zone": "Mars/Olympus", "clock": "24"}
    )

    assert response.status_code == 200
    assert "is not a time zone name" in response.content.decode()
    operator.profile.refresh_from_db()
    assert operator.profile.time_zone == "UTC"


def test_the_settings_form_refuses_a_post_without_its_csrf_token(operator: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)

    response = client.post(
        "/admin/settings/", {"time_zone": "Asia/Tokyo", "clock": "24"}
    )

    assert response.status_code == 403


def test_the_settings_page_offers_every_zone_in_a_searchable_list(
    operator: Any,
) -> None:
    html = _client(operator).get("/admin/settings/").content.decode()

    assert 'list="time-zone-choices"' in html
    assert '<option value="Asia/Tokyo">' in html
    assert 'type="radio" name="clock"' in html


# --- the API documentation ----------------------------------------------------------
@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/", "/api/schema/"])
def test_an_anonymous_browser_is_sent_from_the_docs_to_the_login_page(url: str) -> None:
    response = Client().get(url, HTTP_ACCEPT="text/html,application/xhtml+xml,*/*")

    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={url}"


@pytest.mark.parametrize("url", ["/api/schema/", "/api/v1/schedules/"])
def test_an_anonymous_api_client_still_gets_401_problem_json(url: str) -> None:
    response = Client().get(url, HTTP_ACCEPT="application/json")

    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/problem+json")


def test_redoc_links_no_fonts_from_another_host(superuser: Any) -> None:
    html = (
        _client(superuser).get("/api/redoc/", HTTP_ACCEPT="text/html").content.decode()
    )

    assert "fonts.googleapis.com" not in html
    assert re.findall(r'(?:src|href)="(https?://[^"]+)"', html) == []
