from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from core.accounts import (
    api_token_authenticate,
    api_token_create,
    api_token_revoke,
    profile_set_time_zone,
)
from core.models import ApiToken, WorkerHeartbeat

pytestmark = pytest.mark.django_db


def test_a_token_is_shown_once_and_only_its_digest_is_stored(superuser: Any) -> None:
    token, raw = api_token_create(user=superuser, name="ci")
    stored = ApiToken.objects.get(pk=token.pk)
    assert raw.startswith("sch_")
    assert raw not in {stored.digest, stored.prefix, stored.name}
    assert raw.startswith(stored.prefix)


def test_expired_and_revoked_tokens_do_not_authenticate(superuser: Any) -> None:
    now = timezone.now()
    _, expired = api_token_create(
        user=superuser, name="old", expires_at=now - timedelta(seconds=1)
    )
    revoked_token, revoked = api_token_create(user=superuser, name="gone")
    api_token_revoke(token=revoked_token, now=now)
    _, live = api_token_create(user=superuser, name="live")

    assert api_token_authenticate(raw=expired, now=now) is None
    assert api_token_authenticate(raw=revoked, now=now) is None
    assert api_token_authenticate(raw="sch_guessed", now=now) is None
    authenticated = api_token_authenticate(raw=live, now=now)
    assert authenticated is not None
    assert authenticated.user == superuser


def test_bearer_token_reaches_the_api(superuser: Any) -> None:
    _, raw = api_token_create(user=superuser, name="cli")
    client = APIClient()
    response = client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 200
    assert response.json()["username"] == superuser.username


def test_a_bad_bearer_token_is_a_401_problem() -> None:
    response = APIClient().get("/api/v1/me/", HTTP_AUTHORIZATION="Bearer nope")
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == 401
    assert body["title"] == "Authentication required"
    assert body["instance"] == "/api/v1/me/"


def test_anonymous_api_access_is_refused() -> None:
    response = APIClient().get("/api/v1/me/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_an_unknown_time_zone_is_a_field_error(superuser: Any) -> None:
    client = APIClient()
    client.force_authenticate(superuser)
    response = client.patch("/api/v1/me/", {"time_zone": "Europe/Berln"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "time_zone": ["unknown time zone 'Europe/Berln'"]
    }


def test_the_profile_time_zone_can_be_changed_through_the_api(superuser: Any) -> None:
    client = APIClient()
    client.force_authenticate(superuser)
    response = client.patch(
        "/api/v1/me/", {"time_zone": "America/New_York"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["time_zone"] == "America/New_York"


def test_admin_dates_are_shown_in_the_users_zone(
    client: Client, superuser: Any
) -> None:
    WorkerHeartbeat.objects.create(
        hostname="w@h", seen_at=datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    )
    client.force_login(superuser)
    utc_page = client.get("/admin/scheduler_site/workerheartbeat/").content.decode()
    profile_set_time_zone(user=superuser, time_zone="Europe/Berlin")
    berlin_page = client.get("/admin/scheduler_site/workerheartbeat/").content.decode()

    assert "2026-07-01 12:00:00 UTC" in utc_page
    assert "2026-07-01 14:00:00 CEST" in berlin_page
    assert "Europe/Berlin" in berlin_page


def test_the_settings_page_stores_the_zone(client: Client, superuser: Any) -> None:
    client.force_login(superuser)
    assert client.get("/admin/settings/").status_code == 200
    response = client.post("/admin/settings/", {"time_zone": "Asia/Tokyo"})
    assert response.status_code == 302
    superuser.profile.refresh_from_db()
    assert superuser.profile.time_zone == "Asia/Tokyo"


def test_the_settings_page_rejects_an_unknown_zone(
    client: Client, superuser: Any
) -> None:
    client.force_login(superuser)
    response = client.post("/admin/settings/", {"time_zone": "Mars/Olympus"})
    assert response.status_code == 200
    assert "is not a time zone name" in response.content.decode()


def test_validation_error_keys_survive_the_service_layer() -> None:
    with pytest.raises(ValidationError) as info:
        profile_set_time_zone(user=None, time_zone="Nowhere/Land")  # type: ignore[arg-type]
    assert info.value.message_dict == {
        "time_zone": ["unknown time zone 'Nowhere/Land'"]
    }


def test_an_admin_can_create_a_token_and_sees_it_once(
    client: Client, superuser: Any
) -> None:
    client.force_login(superuser)
    response = client.post(
        "/admin/scheduler_site/apitoken/add/",
        {"user": superuser.pk, "name": "deploy"},
        follow=True,
    )
    page = response.content.decode()
    token = ApiToken.objects.get(name="deploy")
    assert "it will not be shown again" in page
    raw = page.split("Token &#x27;deploy&#x27;: ", 1)[1].split(" ", 1)[0]
    assert api_token_authenticate(raw=raw, now=timezone.now()) == token
