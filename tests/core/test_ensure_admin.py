from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_first_run_creates_an_admin_and_shows_the_password_once() -> None:
    out = StringIO()
    call_command("ensure_admin", stdout=out)
    text = out.getvalue()
    assert "user name 'admin', password " in text
    password = text.split("password ", 1)[1].split()[0]
    assert get_user_model().objects.get(username="admin").check_password(password)

    again = StringIO()
    call_command("ensure_admin", stdout=again)
    assert password not in again.getvalue()
    assert "exists already" in again.getvalue()


def test_admin_password_from_the_environment_is_used_and_not_printed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ADMIN_PASSWORD", "from-env-pass-123")
    out = StringIO()
    call_command("ensure_admin", stdout=out)
    assert "from-env-pass-123" not in out.getvalue()
    assert (
        get_user_model()
        .objects.get(username="admin")
        .check_password("from-env-pass-123")
    )
