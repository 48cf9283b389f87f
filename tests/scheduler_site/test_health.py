from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

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
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["worker"] == {
        "ok": False,
        "detail": "no worker seen in the last 60 s",
    }


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
    assert response.json()["checks"]["worker"]["hostname"] == "w1@host"


def test_broker_check_names_an_unreachable_broker() -> None:
    result = check_broker(url="redis://127.0.0.1:1/0")
    assert result == {"ok": False, "detail": "broker unreachable: OperationalError"}
