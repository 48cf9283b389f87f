"""`make run`'s demo: the shop served by the project as a REST source, Django's
e-mail backend as the SMTP server, a paused schedule of the sync service."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from connections.models import OutgoingConnection
from connections.services import connection_update
from jobruns.management.commands.load_demo import SYNC_SCHEDULE
from schedules.models import Schedule
from tests.connections.conftest import REDIS_PASSWORD, closed_port, redis_value

pytestmark = [pytest.mark.requires_postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo(live_server: Any, settings: Any, tmp_path: Path) -> Schedule:
    settings.DEMO_SHOP_ENABLED = True
    # The site's default (pytest-django switches tests to the locmem backend).
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = tmp_path
    call_command("load_demo", "--base-url", live_server.url, stdout=StringIO())
    return Schedule.objects.get(name=SYNC_SCHEDULE)


def _invoke(schedule: Schedule) -> str:
    out = StringIO()
    call_command(
        "invoke", schedule.target, "--payload", json.dumps(schedule.input),
        stdout=out, stderr=StringIO(),
    )  # fmt: skip
    return out.getvalue()


def test_the_demo_sync_is_paused_and_fails_honestly_without_a_redis(
    demo: Schedule,
) -> None:
    assert demo.is_paused
    assert (
        OutgoingConnection.objects.get(name="demo-mail").settings["host"] == "django:"
    )
    cache = OutgoingConnection.objects.get(name="cache")
    connection_update(
        connection=cache, settings={"url": f"redis://127.0.0.1:{closed_port()}/0"}
    )
    with pytest.raises(
        CommandError, match="step redis failed: redis connection 'cache'"
    ):
        _invoke(demo)


@pytest.mark.requires_redis
def test_pointed_at_a_redis_the_demo_sync_fills_it_and_writes_the_mail_file(
    demo: Schedule, own_redis: str, settings: Any
) -> None:
    connection_update(
        connection=OutgoingConnection.objects.get(name="cache"),
        settings={"url": own_redis},
        secrets={"password": REDIS_PASSWORD},
    )
    output = json.loads(_invoke(demo))
    stored = redis_value(own_redis, "demo:products")
    assert stored is not None
    assert [p["name"] for p in json.loads(stored)][:2] == ["Logo Tee", "Plain Tee"]
    assert output["bytes"] == len(stored)
    files = list(Path(settings.EMAIL_FILE_PATH).iterdir())
    assert len(files) == 1
    mail = files[0].read_text()
    assert "Subject: Demo shop products" in mail
    assert "To: you@example.com" in mail
    assert 'filename="products.json"' in mail
