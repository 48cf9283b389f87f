from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from core import services
from core.services import check_broker, worker_heartbeat_record

pytestmark = pytest.mark.django_db


def test_healthz_answers_while_the_process_is_up(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_names_the_missing_worker(client: Client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["worker"] == {"ok": False}
    assert body["failing"] == ["worker"]


def test_readyz_ignores_a_worker_seen_too_long_ago(client: Client) -> None:
    worker_heartbeat_record(
        hostname="old@host", now=timezone.now() - timedelta(seconds=61)
    )
    assert client.get("/readyz").json()["checks"]["worker"]["ok"] is False


def test_readyz_is_ready_with_database_broker_and_a_recent_worker(
    client: Client,
) -> None:
    worker_heartbeat_record(hostname="w1@host", now=timezone.now())
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json() == {
        "status": "ok",
        "checks": {
            "database": {"ok": True},
            "broker": {"ok": True},
            "worker": {"ok": True},
        },
        "failing": [],
    }


def test_readyz_reveals_no_hostname_credentials_or_backend(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    unreachable = "redis://broker-user:broker-secret@127.0.0.1:1/0"
    monkeypatch.setattr(
        services, "check_broker", functools.partial(check_broker, url=unreachable)
    )
    worker_heartbeat_record(hostname="w1@secret-host", now=timezone.now())
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["broker"]
    text = response.content.decode()
    for revealing in ("secret", "127.0.0.1", "redis", "postgres", "sqlite", "Error"):
        assert revealing not in text


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_answer_any_host_while_other_pages_refuse_it(
    client: Client, settings: Any, path: str
) -> None:
    settings.ALLOWED_HOSTS = ["scheduler.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    worker_heartbeat_record(hostname="w1@host", now=timezone.now())
    assert client.get(path, HTTP_HOST="127.0.0.1:8000").status_code == 200
    assert client.get("/admin/login/", HTTP_HOST="127.0.0.1:8000").status_code == 400


def test_probes_refuse_writes_and_are_never_cached(client: Client) -> None:
    refused = client.post("/healthz")
    assert refused.status_code == 405
    assert refused["Allow"] == "GET, HEAD"
    assert "no-cache" in client.get("/healthz")["Cache-Control"]


def test_broker_check_names_an_unreachable_broker() -> None:
    result = check_broker(url="redis://127.0.0.1:1/0")
    assert result == {"ok": False, "detail": "broker unreachable: OperationalError"}
