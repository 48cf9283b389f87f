"""API keys in the admin: the secret is shown once, works at /api/token, and revokes."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from compat.conductor.models import ConductorApiKey
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

ADD = "/admin/conductor_compat/conductorapikey/add/"


@pytest.fixture
def browser(superuser: Any) -> Client:
    client = Client()
    client.login(username=superuser.username, password=PASSWORD)
    return client


def _code(page: bytes, element: str) -> str:
    match = re.search(rf'id="{element}">([^<]+)<', page.decode())
    assert match, page.decode()[:2000]
    return match[1]


def test_a_key_created_in_the_admin_shows_its_secret_once_and_gets_a_token(
    browser: Client, editor: Any
) -> None:
    page = browser.post(ADD, {"name": "ci robot", "user": editor.pk})
    assert page.status_code == 200
    key_id = _code(page.content, "conductor-key-id")
    secret = _code(page.content, "conductor-key-secret")
    key = ConductorApiKey.objects.get()
    assert (key.key_id, key.user, key.name) == (key_id, editor, "ci robot")
    assert secret not in key.secret_digest

    change = browser.get(f"/admin/conductor_compat/conductorapikey/{key.pk}/change/")
    assert key_id.encode() in change.content
    assert secret.encode() not in change.content

    token = APIClient().post(
        "/api/token", {"keyId": key_id, "keySecret": secret}, format="json"
    )
    assert token.status_code == 200
    assert token.json()["token"]


def test_the_revoke_action_reports_a_count_and_ends_the_keys(
    browser: Client, editor: Any, make_key: Any
) -> None:
    key_id, secret = make_key(editor)
    key = ConductorApiKey.objects.get(key_id=key_id)
    page = browser.post(
        "/admin/conductor_compat/conductorapikey/",
        {"action": "revoke", "_selected_action": [key.pk]},
        follow=True,
    )
    assert b"1 key(s) revoked." in page.content
    refused = APIClient().post(
        "/api/token", {"keyId": key_id, "keySecret": secret}, format="json"
    )
    assert refused.status_code == 401


def test_only_superusers_manage_keys(editor: Any) -> None:
    client = Client()
    client.login(username=editor.username, password=PASSWORD)
    assert client.get(ADD).status_code == 403
