"""Personal tokens, and one error shape for every failure of the v1 API."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from core.accounts import api_token_create
from core.models import ApiToken

pytestmark = pytest.mark.django_db

TOKENS = "/api/v1/me/tokens/"
PROBLEM = "application/problem+json"


# --- personal tokens ------------------------------------------------------------------
def test_a_created_token_is_shown_once_and_then_signs_requests_in(
    client_for: Callable[..., APIClient], viewer: Any
) -> None:
    created = client_for(viewer).post(TOKENS, {"name": "ci"}, format="json")

    assert created.status_code == 201
    raw = created.json()["token"]
    bearer = APIClient(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert bearer.get("/api/v1/me/").json()["username"] == "vera-viewer"
    listed = bearer.get(TOKENS).json()
    assert [t["name"] for t in listed] == ["ci"]
    assert "token" not in listed[0]


def test_revoking_a_token_stops_it_at_once(
    client_for: Callable[..., APIClient], viewer: Any
) -> None:
    token, raw = api_token_create(user=viewer, name="laptop")

    assert client_for(viewer).delete(f"{TOKENS}{token.pk}/").status_code == 204

    refused = APIClient(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/api/v1/me/")
    assert refused.status_code == 401
    assert refused["Content-Type"] == PROBLEM
    assert refused["WWW-Authenticate"].startswith("Bearer")


def test_another_users_token_is_not_found(
    client_for: Callable[..., APIClient], viewer: Any, operator: Any
) -> None:
    token, _ = api_token_create(user=operator, name="theirs")
    assert client_for(viewer).delete(f"{TOKENS}{token.pk}/").status_code == 404
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None


def test_even_a_user_without_a_role_manages_their_own_tokens(
    client_for: Callable[..., APIClient], outsider: Any
) -> None:
    api = client_for(outsider)
    assert api.post(TOKENS, {"name": "mine"}, format="json").status_code == 201
    assert api.get("/api/v1/runs/").status_code == 403


def test_minting_tokens_in_bulk_is_throttled_with_retry_after(
    client_for: Callable[..., APIClient], viewer: Any, settings: Any
) -> None:
    settings.AUTH_THROTTLE_RATE = "3/min"
    api = client_for(viewer)
    for n in range(3):
        assert api.post(TOKENS, {"name": f"t{n}"}, format="json").status_code == 201

    response = api.post(TOKENS, {"name": "one too many"}, format="json")

    assert response.status_code == 429
    assert response["Content-Type"] == PROBLEM
    assert int(response["Retry-After"]) > 0
    assert response.json()["title"] == "Too many requests"
    assert api.get(TOKENS).status_code == 200  # reading is not limited


def test_the_throttle_counts_each_client_address_when_anonymous(
    settings: Any,
) -> None:
    from rest_framework.test import APIRequestFactory

    from core.api.throttling import AuthRateThrottle

    settings.AUTH_THROTTLE_RATE = "1/min"
    factory = APIRequestFactory()

    def allowed(addr: str, forwarded: str) -> bool:
        from rest_framework.request import Request

        raw = factory.post(
            "/api/token", REMOTE_ADDR=addr, HTTP_X_FORWARDED_FOR=forwarded
        )
        return AuthRateThrottle().allow_request(Request(raw), None)  # type: ignore[arg-type]

    assert allowed("198.51.100.1", "1.1.1.1")
    # A forged X-Forwarded-For does not buy a fresh allowance.
    assert not allowed("198.51.100.1", "2.2.2.2")
    assert allowed("198.51.100.2", "1.1.1.1")


# --- errors -----------------------------------------------------------------------
def test_a_body_over_the_limit_is_a_413_problem(
    client_for: Callable[..., APIClient], editor: Any, settings: Any
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    body = json.dumps({"name": "x", "description": "y" * 4096})

    response = client_for(editor).post(
        "/api/v1/schedules/", body, content_type="application/json"
    )

    assert response.status_code == 413
    assert response["Content-Type"] == PROBLEM
    assert response.json()["title"] == "Request body too large"


def test_malformed_json_is_a_400_problem_without_field_errors(
    client_for: Callable[..., APIClient], editor: Any
) -> None:
    response = client_for(editor).post(
        "/api/v1/schedules/", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert "JSON parse error" in body["detail"]
    assert "errors" not in body


def test_an_unknown_api_path_is_a_404_problem(client: Any) -> None:
    response = client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM
    assert response.json()["instance"] == "/api/v1/no-such-thing/"


def test_a_wrong_method_is_a_405_problem(
    client_for: Callable[..., APIClient], viewer: Any
) -> None:
    response = client_for(viewer).delete("/api/v1/runs/")
    assert response.status_code == 405
    assert response["Content-Type"] == PROBLEM


def test_a_signed_out_caller_gets_a_401_problem(client: Any) -> None:
    response = client.get("/api/v1/runs/")
    assert response.status_code == 401
    assert response.json()["title"] == "Authentication required"


def test_a_taken_name_is_a_409_problem_with_the_field_named(
    client_for: Callable[..., APIClient], editor: Any, make_schedule: Any
) -> None:
    make_schedule(name="nightly")
    other = make_schedule(name="hourly")
    api = client_for(editor)

    renamed = api.patch(
        f"/api/v1/schedules/{other.name}/", {"name": "nightly"}, format="json"
    )

    assert renamed.status_code == 409
    assert renamed.json()["errors"]["name"][0].startswith("a schedule named")


def test_a_taken_name_beside_another_error_stays_a_400(
    client_for: Callable[..., APIClient], editor: Any, make_schedule: Any
) -> None:
    make_schedule(name="nightly")
    response = client_for(editor).post(
        "/api/v1/schedules/",
        {"name": "nightly", "kind": "interval", "target": "core.echo"},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()["errors"]) >= {"name"}


# --- the schema and its readers ---------------------------------------------------
def test_the_schema_and_docs_need_a_sign_in_and_load_nothing_from_a_cdn(
    client: Any, viewer: Any
) -> None:
    assert client.get("/api/schema/").status_code in (401, 403)
    client.force_login(viewer)
    assert client.get("/api/schema/").status_code == 200
    for page in ("/api/docs/", "/api/redoc/"):
        html = client.get(page).content.decode()
        assert "cdn.jsdelivr" not in html
        assert "/static/drf_spectacular_sidecar/" in html


def test_a_user_reads_and_sets_their_zone_and_clock_as_the_admin_shows_them(
    client_for: Callable[..., APIClient], viewer: Any
) -> None:
    api = client_for(viewer)
    assert api.get("/api/v1/me/").json()["hour12"] is False
    changed = api.patch(
        "/api/v1/me/", {"time_zone": "America/New_York", "hour12": True}, format="json"
    )
    assert changed.status_code == 200
    assert (changed.json()["time_zone"], changed.json()["hour12"]) == (
        "America/New_York",
        True,
    )
    viewer.profile.refresh_from_db()
    assert viewer.profile.hour12 is True
    refused = api.patch("/api/v1/me/", {"hour12": "often"}, format="json")
    assert refused.status_code == 400
    assert refused["Content-Type"] == PROBLEM
