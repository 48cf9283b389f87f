"""Outgoing connections: validation per kind, encryption at rest, write-only
secrets in the API and the admin, role checks, Test, and the clients."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.db import connection as db
from django.utils import timezone

from connections.clients import ConnectionFailure, Outgoing, RestSession
from connections.models import OutgoingConnection
from connections.services import connection_create, connection_test, connection_update
from core.models import AuditEvent
from jobruns.models import JobRun
from jobruns.services import jobrun_enqueue, jobrun_execute
from tests.connections.conftest import (
    ORDERS,
    REDIS_PASSWORD,
    SMTP_PASSWORD,
    SOURCE_TOKEN,
    SmtpServer,
    closed_port,
)

pytestmark = pytest.mark.django_db


def _rest(base_url: str, token: str = SOURCE_TOKEN, name: str = "src") -> Any:
    return connection_create(
        name=name,
        kind="rest",
        settings={"base_url": base_url, "auth": "bearer"},
        secrets={"token": token},
    )


@pytest.mark.parametrize(
    ("kind", "values", "secrets", "errors"),
    [
        ("ftp", {}, {}, {"kind": ["Choose one of rest, smtp, redis."]}),
        ("rest", {}, {}, {"settings": ["base_url is required."]}),
        (
            "rest",
            {"base_url": "ftp://x", "auth": "magic"},
            {},
            {"settings": ["auth must be one of none, basic, bearer, header."]},
        ),
        (
            "rest",
            {"base_url": "https://u:p@example.com"},
            {},
            {"settings": ["base_url must not hold a user or password; use auth."]},
        ),
        (
            "rest",
            {"base_url": "https://example.com", "auth": "bearer"},
            {},
            {"secrets": ["token is required when auth is bearer."]},
        ),
        (
            "rest",
            {"base_url": "https://example.com", "timeout_seconds": True},
            {"pin": "1234"},
            {
                "settings": ["timeout_seconds must be a number."],
                "secrets": ["pin is not a secret of a rest connection."],
            },
        ),
        (
            "rest",
            {"base_url": "https://example.com", "username": "a\x00b"},
            {},
            {"settings": ["settings.username contains a NUL character (\\u0000)"]},
        ),
        (
            "redis",
            {"url": "redis://:hunter2@cache:6379/0"},
            {},
            {"settings": ["url must not hold a password; put it in secrets.password."]},
        ),
        (
            "smtp",
            {"host": "mail.example.com:25", "from_address": "nobody"},
            {},
            {
                "settings": [
                    "from_address must be an e-mail address.",
                    "host must be a host name or address (or 'django:'); put the "
                    "port in port.",
                ]
            },
        ),
    ],
)
def test_settings_and_secrets_are_checked_per_kind(
    kind: str, values: dict, secrets: dict, errors: dict
) -> None:
    with pytest.raises(ValidationError) as caught:
        connection_create(name="c", kind=kind, settings=values, secrets=secrets)
    assert caught.value.message_dict == errors
    assert not OutgoingConnection.objects.exists()


def test_secrets_are_stored_encrypted_and_defaults_filled_in() -> None:
    stored = _rest("https://data.example.com/api/")
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT secrets_encrypted, CAST(settings AS text) "
            "FROM connections_outgoingconnection"
        )
        raw, settings = cursor.fetchone()
    assert SOURCE_TOKEN not in raw
    assert SOURCE_TOKEN not in settings
    assert OutgoingConnection.objects.get().secrets() == {"token": SOURCE_TOKEN}
    assert stored.settings == {
        "base_url": "https://data.example.com/api/",
        "auth": "bearer",
        "username": "",
        "header_name": "",
        "timeout_seconds": 10,
        "verify_tls": True,
    }


def test_an_update_keeps_secrets_not_given_and_removes_empty_ones() -> None:
    stored = connection_create(
        name="mail",
        kind="smtp",
        settings={"host": "mail.example.com", "from_address": "a@example.com"},
        secrets={"password": SMTP_PASSWORD},
    )
    connection_update(connection=stored, settings={**stored.settings, "port": 2525})
    assert stored.secrets() == {"password": SMTP_PASSWORD}
    connection_update(connection=stored, secrets={"password": ""})
    assert stored.secrets() == {}
    with pytest.raises(ValidationError, match="password is required when username"):
        connection_update(
            connection=stored, settings={**stored.settings, "username": "a"}
        )
    changes = [e.changes for e in AuditEvent.objects.order_by("pk")]
    assert changes[1] == {"settings": [mock.ANY, mock.ANY]}
    assert changes[2] == {"secrets": [None, ["password"]]}
    assert SMTP_PASSWORD not in str(changes)


# --- API -------------------------------------------------------------------------
def _body(**changes: Any) -> dict[str, Any]:
    return {
        "name": "My Data Source",
        "kind": "rest",
        "settings": {"base_url": "https://data.example.com/", "auth": "bearer"},
        "secrets": {"token": SOURCE_TOKEN},
        **changes,
    }


def test_editors_write_viewers_read_masked_and_operators_test(
    client: Any, editor: Any, viewer: Any, operator: Any
) -> None:
    client.force_login(viewer)
    assert client.post("/api/v1/connections/", _body()).status_code == 403
    client.force_login(editor)
    created = client.post(
        "/api/v1/connections/", _body(), content_type="application/json"
    )
    assert created.status_code == 201, created.content
    assert created.json()["secrets"] == {"token": "••••••5e6f"}
    url = "/api/v1/connections/My%20Data%20Source/"
    changed = client.patch(
        url, {"settings": {"base_url": "https://other.example.com/", "auth": "bearer"}},
        content_type="application/json",
    )  # fmt: skip
    assert changed.status_code == 200, changed.content
    assert OutgoingConnection.objects.get().secrets() == {"token": SOURCE_TOKEN}

    client.force_login(viewer)
    read = client.get(url)
    assert read.status_code == 200
    assert read.json()["secrets"] == {"token": "••••••5e6f"}
    assert client.post(f"{url}test/").status_code == 403
    assert client.delete(url).status_code == 403
    client.force_login(operator)
    assert (
        client.patch(url, {"name": "x"}, content_type="application/json").status_code
        == 403
    )


def test_a_bad_body_is_a_400_problem_with_field_errors(
    client: Any, editor: Any
) -> None:
    client.force_login(editor)
    answer = client.post(
        "/api/v1/connections/",
        _body(secrets={}, settings={"base_url": "https://x.example/", "auth": "basic"}),
        content_type="application/json",
    )
    assert answer.status_code == 400
    assert answer["Content-Type"] == "application/problem+json"
    assert answer.json()["errors"] == {
        "settings": ["username is required with basic auth."]
    }
    client.post("/api/v1/connections/", _body(), content_type="application/json")
    again = client.post(
        "/api/v1/connections/", _body(), content_type="application/json"
    )
    assert again.status_code == 400
    assert "name" in again.json()["errors"]


def test_testing_a_rest_connection_reports_refused_credentials(
    client: Any, operator: Any, data_source: str
) -> None:
    _rest(data_source, token="wrong-token-000000", name="src")
    client.force_login(operator)
    answer = client.post("/api/v1/connections/src/test/")
    assert answer.status_code == 200
    result = answer.json()
    assert result["ok"] is False
    assert result["detail"] == (
        f"GET {data_source} answered 401: the credentials were refused"
    )
    assert result["latency_ms"] >= 0
    connection_update(
        connection=OutgoingConnection.objects.get(), secrets={"token": SOURCE_TOKEN}
    )
    assert client.post("/api/v1/connections/src/test/").json()["ok"] is True
    assert OutgoingConnection.objects.get().last_test["ok"] is True


def test_testing_smtp_and_redis_connects_and_signs_in(
    smtp_server: SmtpServer, own_redis: str
) -> None:
    smtp = connection_create(
        name="mail",
        kind="smtp",
        settings={"host": "127.0.0.1", "port": smtp_server.port, "security": "none",
                  "username": "robot@example.com", "from_address": "robot@example.com"},
        secrets={"password": SMTP_PASSWORD},
    )  # fmt: skip
    now = timezone.now()
    result = connection_test(connection=smtp, now=now)
    assert (result.ok, result.detail) == (
        True,
        f"connected to 127.0.0.1:{smtp_server.port} (none) and signed in",
    )
    connection_update(connection=smtp, secrets={"password": "wrong-password-1"})
    refused = connection_test(connection=smtp, now=now)
    assert not refused.ok
    assert refused.detail.startswith("the server refused the login (535")
    cache = connection_create(
        name="cache", kind="redis", settings={"url": own_redis},
        secrets={"password": REDIS_PASSWORD},
    )  # fmt: skip
    assert connection_test(connection=cache, now=now).detail == "PING answered PONG"
    connection_update(connection=cache, secrets={"password": "wrong-password-2"})
    wrong = connection_test(connection=cache, now=now)
    assert not wrong.ok
    assert wrong.detail.startswith("PING failed:")


# --- Admin -----------------------------------------------------------------------
def test_the_admin_masks_secrets_offers_test_to_operators_and_keeps_blank_secrets(
    client: Any, superuser: Any, operator: Any, viewer: Any, data_source: str
) -> None:
    stored = _rest(data_source)
    client.force_login(superuser)
    page = client.get(f"/admin/connections/outgoingconnection/{stored.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert SOURCE_TOKEN not in html
    assert "••••••5e6f" in html
    assert "/test/" in html
    saved = client.post(
        f"/admin/connections/outgoingconnection/{stored.pk}/change/",
        {"name": "src", "kind": "rest",
         "settings": json.dumps({"base_url": data_source, "auth": "bearer"}),
         "secret_password": "", "secret_token": "", "secret_header_value": ""},
    )  # fmt: skip
    assert saved.status_code == 302, saved.content.decode()[-2000:]
    assert OutgoingConnection.objects.get().secrets() == {"token": SOURCE_TOKEN}
    bad = client.post(
        f"/admin/connections/outgoingconnection/{stored.pk}/change/",
        {"name": "src", "kind": "rest", "settings": '{"base_url": "ftp://x"}'},
    )
    assert bad.status_code == 200
    assert "base_url must be an http:// or https:// URL." in bad.content.decode()

    client.force_login(viewer)
    test_url = f"/admin/connections/outgoingconnection/{stored.pk}/test/"
    assert client.post(test_url).status_code == 403
    client.force_login(operator)
    answered = client.post(test_url, follow=True).content.decode()
    assert "Src: reached in" in answered  # the admin capitalises messages
    assert f"GET {data_source} answered 200" in answered
    assert OutgoingConnection.objects.get().last_test["ok"] is True


# --- Clients and services using them ---------------------------------------------
def test_a_rest_session_refuses_an_absolute_url_so_secrets_stay_with_their_host(
    data_source: str,
) -> None:
    session = RestSession(_rest(data_source))
    with pytest.raises(ConnectionFailure, match="is not a path; paths are relative"):
        session.get("https://elsewhere.example.com/steal")
    with pytest.raises(ConnectionFailure, match="is not a path"):
        session.get("//elsewhere.example.com/steal")
    assert session.get("orders").json()[0]["id"] == 1


def test_an_unknown_name_names_the_kind_and_the_connection() -> None:
    with pytest.raises(ConnectionFailure) as caught:
        Outgoing().redis["nope"]
    assert (
        str(caught.value)
        == "redis connection 'nope': no redis connection has this name"
    )


def test_private_addresses_can_be_refused_by_a_setting(
    settings: Any, data_source: str
) -> None:
    stored = _rest(data_source)
    settings.CONNECTIONS_ALLOW_PRIVATE = False
    with pytest.raises(ConnectionFailure, match=r"127\.0\.0\.1, a loopback, private"):
        RestSession(stored)
    result = connection_test(connection=stored, now=timezone.now())
    assert not result.ok
    assert "CONNECTIONS_ALLOW_PRIVATE is off" in result.detail


def _run(service: str, payload: dict[str, Any]) -> JobRun:
    with mock.patch("jobruns.tasks.execute_run.apply_async"):
        run = jobrun_enqueue(
            service=service, trigger="cli", input_override=payload, now=timezone.now()
        )
    jobrun_execute(run_id=run.pk, worker="test", in_process=True)
    run.refresh_from_db()
    return run


def test_http_request_takes_its_secrets_from_a_connection(data_source: str) -> None:
    _rest(data_source)
    run = _run("http.request", {"connection": "src", "path": "orders"})
    assert run.status == JobRun.Status.SUCCEEDED, run.error
    assert run.output["status"] == 200
    assert run.output["json"][1]["total"] == "5.00"
    assert SOURCE_TOKEN not in str(run.input) + run.log
    down = _rest(f"http://127.0.0.1:{closed_port()}/", name="down")
    failed = _run("http.request", {"connection": down.name})
    assert failed.status == JobRun.Status.FAILED
    assert failed.error.startswith("rest connection 'down': GET / failed:")
    with pytest.raises(ValidationError, match="input"):
        jobrun_enqueue(
            service="http.request", trigger="cli", now=timezone.now(), send=False,
            input_override={"connection": "src", "url": "https://example.com/"},
        )  # fmt: skip


def test_the_readme_example_service_runs_as_written(
    connections: dict[str, Any], smtp_server: SmtpServer, own_redis: str
) -> None:
    import re
    from pathlib import Path

    from tests.connections.conftest import redis_value

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    source = re.search(r"```python\n(# myapp/job_services.py\n.*?)```", readme, re.S)
    assert source is not None
    exec(compile(source.group(1), "README.md", "exec"), {"__name__": "readme"})

    run = _run("shop.new_orders_digest", {"to": ["ops@example.com"]})
    assert run.status == JobRun.Status.SUCCEEDED, run.error
    assert run.output["orders"] == 2
    assert redis_value(own_redis, "orders:processing") == ORDERS
    assert len(smtp_server.received) == 1
    assert smtp_server.received[0]["Subject"] == "2 processing orders"


def test_a_list_with_an_absurd_limit_or_offset_is_a_400_naming_it_not_a_500(
    client: Any, viewer: Any
) -> None:
    _rest("https://data.example.com/")
    client.force_login(viewer)
    huge = client.get(
        "/api/v1/connections/?kind=rest&limit=946701763333552601038848&offset=-3"
    )
    assert huge.status_code == 400
    assert "limit" in huge.json()["errors"]
    far = client.get(f"/api/v1/connections/?offset={10**24}")
    assert far.status_code == 400
    assert "offset" in far.json()["errors"]
    fine = client.get("/api/v1/connections/?kind=rest&limit=500")
    assert [c["name"] for c in fine.json()["results"]] == ["src"]


def test_rotate_credentials_key_reencrypts_connection_secrets_too(
    settings: Any,
) -> None:
    from io import StringIO

    from cryptography.fernet import Fernet
    from django.core.management import call_command

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.CREDENTIALS_ENCRYPTION_KEYS = [old]
    _rest("https://data.example.com/")
    settings.CREDENTIALS_ENCRYPTION_KEYS = [new, old]
    out = StringIO()
    call_command("rotate_credentials_key", stdout=out)
    assert "Re-encrypted 1 value(s)" in out.getvalue()
    settings.CREDENTIALS_ENCRYPTION_KEYS = [new]
    assert OutgoingConnection.objects.get().secrets() == {"token": SOURCE_TOKEN}


def test_an_editor_adds_a_connection_in_the_admin_with_its_secret_encrypted(
    client: Any, editor: Any
) -> None:
    client.force_login(editor)
    page = client.get("/admin/connections/outgoingconnection/add/")
    assert page.status_code == 200
    added = client.post(
        "/admin/connections/outgoingconnection/add/",
        {"name": "My SMTP", "kind": "smtp",
         "settings": json.dumps({"host": "django:", "from_address": "a@example.com",
                                 "username": "a"}),
         "secret_password": SMTP_PASSWORD},
    )  # fmt: skip
    assert added.status_code == 302, added.content.decode()[-3000:]
    stored = OutgoingConnection.objects.get()
    assert stored.secrets() == {"password": SMTP_PASSWORD}
    assert SMTP_PASSWORD not in stored.secrets_encrypted
    assert AuditEvent.objects.get().changes["secrets"] == [None, ["password"]]


def test_a_rest_answer_over_the_size_cap_fails_the_step_without_being_read(
    settings: Any, data_source: str
) -> None:
    session = RestSession(_rest(data_source))
    settings.CONNECTIONS_REST_MAX_BYTES = len(ORDERS) - 1
    with pytest.raises(ConnectionFailure) as caught:
        session.get("orders")
    assert str(caught.value) == (
        f"rest connection 'src': GET orders answered more than {len(ORDERS) - 1:,} "
        "bytes (CONNECTIONS_REST_MAX_BYTES); the body was not read"
    )
    assert session.get("orders", stream=True).raw.read() == ORDERS, "streams untouched"
    settings.CONNECTIONS_REST_MAX_BYTES = len(ORDERS)
    assert session.get("orders").content == ORDERS, "a body at the cap is read whole"


def test_sent_email_records_are_forgotten_after_their_keeping_time(
    settings: Any,
) -> None:
    from django_celery_beat.models import PeriodicTask

    from connections.models import SentEmail
    from connections.services import sent_email_prune, sent_email_record
    from connections.tasks import prune_sent_emails

    settings.CONNECTIONS_SENT_EMAIL_KEEP_DAYS = 30
    now = timezone.now()
    for key, days in (("old", 31), ("recent", 29)):
        sent_email_record(
            key=key, connection_name="mail", message_id=f"<{key}@x>",
            now=now - timedelta(days=days),
        )  # fmt: skip
    assert sent_email_prune(now=now) == 1
    assert list(SentEmail.objects.values_list("key", flat=True)) == ["recent"]
    assert prune_sent_emails() == 0, "the task prunes the same way"
    nightly = PeriodicTask.objects.get(task="connections.prune_sent_emails")
    assert nightly.enabled
    assert nightly.crontab is not None
