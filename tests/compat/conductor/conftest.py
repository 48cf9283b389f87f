"""Fixtures for the Conductor API: keys, open mode, API clients, SDK clients."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from compat.conductor.services import conductor_api_key_create

CRON = "0 30 2 * * *"  # Spring: 02:30:00 every day


@pytest.fixture(autouse=True)
def _fresh_throttle() -> None:
    """The token throttle counts in the cache, which outlives a test."""
    cache.clear()


@pytest.fixture(autouse=True)
def _no_sdk_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK reads CONDUCTOR_* from the environment; tests say what they mean."""
    for name in ("CONDUCTOR_AUTH_KEY", "CONDUCTOR_AUTH_SECRET", "CONDUCTOR_SERVER_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def make_key() -> Callable[[Any], tuple[str, str]]:
    def make(user: Any, name: str = "ci") -> tuple[str, str]:
        key, secret = conductor_api_key_create(user=user, name=name, now=timezone.now())
        return key.key_id, secret

    return make


@pytest.fixture
def open_mode(settings: Any, django_user_model: Any) -> Any:
    """Key auth off; calls without a token act as the `conductor` editor."""
    from django.contrib.auth.models import Group

    settings.CONDUCTOR_AUTH_REQUIRED = False
    settings.CONDUCTOR_ANONYMOUS_USER = "conductor"
    user = django_user_model.objects.create_user(username="conductor")
    user.groups.add(Group.objects.get(name="editor"))
    return user


def token_for(key_id: str, secret: str) -> str:
    response = APIClient().post(
        "/api/token", {"keyId": key_id, "keySecret": secret}, format="json"
    )
    assert response.status_code == 200, response.content
    return str(response.json()["token"])


@pytest.fixture
def conductor_as(make_key: Callable[[Any], tuple[str, str]]) -> Callable[[Any], Any]:
    """An APIClient that sends X-Authorization with a token of `user`'s key."""

    def as_user(user: Any) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_X_AUTHORIZATION=token_for(*make_key(user)))
        return client

    return as_user


def save_request(name: str = "nightly", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "cronExpression": CRON,
        "startWorkflowRequest": {"name": "core.echo", "input": {"report": "daily"}},
    }
    body.update(overrides)
    return body
