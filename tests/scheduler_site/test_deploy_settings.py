"""Production settings are secure by default and pass Django's deployment checklist.

Settings are read once at start-up, so each case starts ``manage.py`` afresh with
the environment an operator would give it.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# What the README's production section tells an operator to set behind TLS.
PRODUCTION_ENV = {
    "DEBUG": "false",
    "ALLOWED_HOSTS": "scheduler.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://scheduler.example.com",
    "BEHIND_TLS_PROXY": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
}
# Each case says what it sets. DJANGO_ALLOW_ASYNC_UNSAFE is set by the browser
# tests' fixture, never in production (check --deploy rightly refuses it).
NOT_INHERITED = {
    *PRODUCTION_ENV,
    "SECURE_COOKIES",
    "SECURE_SSL_REDIRECT",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
}
SHOWN = [
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY",
    "CSRF_COOKIE_HTTPONLY",
    "SECURE_SSL_REDIRECT",
    "DEBUG",
]


def _manage(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    clean.update(
        SECRET_KEY=secrets.token_urlsafe(50), SCHEDULER_VAR_DIR=str(tmp_path), **env
    )
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _settings(tmp_path: Path, **env: str) -> dict[str, object]:
    code = (
        "from django.conf import settings; import json; "
        f"print(json.dumps({{n: getattr(settings, n) for n in {SHOWN!r}}}))"
    )
    result = _manage(tmp_path, "shell", "-c", code, **env)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def test_check_deploy_is_clean_with_the_documented_production_settings(
    tmp_path: Path,
) -> None:
    result = _manage(
        tmp_path, "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION_ENV
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_without_debug_cookies_are_secure_and_http_only_by_default(
    tmp_path: Path,
) -> None:
    shown = _settings(tmp_path, DEBUG="false")
    assert shown == {
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "CSRF_COOKIE_HTTPONLY": True,
        "SECURE_SSL_REDIRECT": False,
        "DEBUG": False,
    }


@pytest.mark.parametrize(
    ("env", "secure"),
    [
        ({"DEBUG": "false", "SECURE_COOKIES": "false"}, False),
        ({"DEBUG": "true"}, False),
        ({"DEBUG": "true", "SECURE_COOKIES": "true"}, True),
    ],
)
def test_secure_cookies_change_only_when_the_operator_says_so(
    tmp_path: Path, env: dict[str, str], secure: bool
) -> None:
    shown = _settings(tmp_path, **env)
    assert shown["SESSION_COOKIE_SECURE"] is secure
    assert shown["CSRF_COOKIE_SECURE"] is secure
    assert shown["CSRF_COOKIE_HTTPONLY"] is True


def test_behind_a_tls_proxy_plain_http_is_redirected(tmp_path: Path) -> None:
    assert _settings(tmp_path, **PRODUCTION_ENV)["SECURE_SSL_REDIRECT"] is True
