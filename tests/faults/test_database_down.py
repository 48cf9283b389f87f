"""Every API answers 503 + Retry-After in its own error shape while PostgreSQL is down.

A PostgreSQL of the test's own (tests/support/postgres.py) serves a real
gunicorn; the test stops it, asks each API, starts it again and asks again.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.live import GunicornProcess
from tests.support.postgres import DEFAULT_PORTS, OwnPostgres, port_free, postgres_bin
from tests.support.services import service_missing

ROOT = Path(__file__).resolve().parents[2]
GONE = uuid.uuid4()

# (API, path, extra headers): one read per API, authenticated by the same token.
CALLS = [
    ("native", "/api/v1/schedules/", {}),
    ("conductor", "/api/scheduler/schedules", {}),
    ("openspecimen", "/rest/ng/scheduled-jobs", {"X-OS-API-TOKEN": "{token}"}),
    ("elasticio-v1", f"/v1/exec/poll/{GONE}", {}),
    ("elasticio-v2", f"/v2/exec/poll/{GONE}", {}),
]


@dataclass
class Site:
    postgres: OwnPostgres
    server: GunicornProcess
    token: str

    def get(
        self, path: str, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], str]:
        sent = {k: v.format(token=self.token) for k, v in headers.items()}
        request = urllib.request.Request(
            self.server.url + path,
            headers={"Authorization": f"Bearer {self.token}", **sent},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read().decode()


def _manage(database_url: str, *argv: str) -> str:
    env = {"DATABASE_URL": database_url}
    result = subprocess.run(
        [sys.executable, "manage.py", *argv], cwd=ROOT, capture_output=True,
        text=True, timeout=300, env={**_base_env(), **env},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}


MAKE_TOKEN = """
from django.contrib.auth import get_user_model
from core.accounts import api_token_create
user = get_user_model().objects.create_superuser("root", "root@example.com", "x")
print(api_token_create(user=user, name="db-down")[1])
"""


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    if postgres_bin() is None:
        service_missing("needs PostgreSQL's initdb/pg_ctl in /usr/lib/postgresql/*/bin")
    port = next((p for p in DEFAULT_PORTS if port_free(p)), None)
    if port is None:
        service_missing(f"no free port in {DEFAULT_PORTS} for a PostgreSQL of our own")
        return
    postgres = OwnPostgres(port).init()
    server = None
    try:
        postgres.start()
        url = postgres.url()
        _manage(url, "migrate", "--no-input", "-v0")
        token = _manage(url, "shell", "-c", MAKE_TOKEN).strip().splitlines()[-1]
        server = GunicornProcess(env={"DATABASE_URL": url}).start()
        yield Site(postgres, server, token)
    finally:
        if server is not None:
            server.stop()
        postgres.remove()


def _shape_ok(api: str, body: object) -> bool:
    if api == "native":
        return isinstance(body, dict) and body["status"] == 503
    if api == "conductor":
        return isinstance(body, dict) and body["status"] == 503 and body["retryable"]
    if api == "openspecimen":
        return isinstance(body, list) and body[0]["code"] == "SERVICE_UNAVAILABLE"
    if api == "elasticio-v1":
        return isinstance(body, dict) and "message" in body
    return isinstance(body, dict) and body["errors"][0]["status"] == 503


@pytest.mark.parametrize(("api", "path", "headers"), CALLS, ids=[c[0] for c in CALLS])
def test_every_api_answers_503_with_retry_after_while_the_database_is_down(
    site: Site, api: str, path: str, headers: dict[str, str]
) -> None:
    status, _, body = site.get(path, headers)
    assert status in {200, 404}, (status, body)  # up: answered from the database

    site.postgres.stop()
    try:
        status, answer_headers, body = site.get(path, headers)
    finally:
        site.postgres.start()

    assert status == 503, body
    assert answer_headers["Retry-After"] == "5"
    assert _shape_ok(api, json.loads(body)), body
    # Back up: the next request reconnects.
    assert site.get(path, headers)[0] in {200, 404}
