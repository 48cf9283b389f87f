"""A client generated from our OpenAPI schema drives the API, end to end.

The schema is dumped and a client generated with openapi-python-client inside
the test run, so a schema that generates badly (duplicate operation ids, untyped
bodies) fails here, not in a user's build.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from django.core.management import call_command

from core.accounts import api_token_create

PACKAGE = "scheduler_client"


@pytest.fixture
def generated(tmp_path: Path) -> Iterator[ModuleType]:
    """Dump the schema, generate the client into tmp_path and import it."""
    schema = tmp_path / "schema.yaml"
    call_command("spectacular", file=str(schema), validate=True, fail_on_warn=True)
    bin_dir = Path(sys.executable).parent
    result = subprocess.run(
        [
            str(bin_dir / "openapi-python-client"), "generate",
            "--path", str(schema), "--output-path", str(tmp_path / PACKAGE),
            "--meta", "none",
        ],
        capture_output=True, text=True, timeout=120, check=False,
        # Its post-generation hook formats with ruff, which lives beside python.
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"},
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Warning" not in output, output
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def _op(tag: str, name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.api.{tag}.{name}")


def _model(name: str) -> Any:
    return getattr(importlib.import_module(f"{PACKAGE}.models"), name)


@pytest.mark.django_db
def test_the_schema_generates_a_client_without_warnings(generated: ModuleType) -> None:
    for tag, name in [
        ("schedules", "schedules_run_now_create"),
        ("runs", "runs_result_file_retrieve"),
        ("me", "me_tokens_create"),
        ("audit", "audit_list"),
        ("services", "services_list"),
    ]:
        assert hasattr(_op(tag, name), "sync_detailed"), name


@pytest.mark.requires_postgres
@pytest.mark.requires_redis
@pytest.mark.requires_worker
@pytest.mark.django_db(transaction=True)
def test_a_generated_client_drives_a_schedules_whole_life(
    generated: ModuleType, live_server: Any, celery_worker: Any, superuser: Any
) -> None:
    _, raw = api_token_create(user=superuser, name="generated client")
    client = generated.AuthenticatedClient(base_url=live_server.url, token=raw)

    created = _op("schedules", "schedules_create").sync_detailed(
        client=client,
        body=_model("ScheduleWriteRequest").from_dict(
            {"name": "life", "kind": "cron", "cron_expression": "30 2 * * *",
             "time_zone": "Europe/Berlin", "target": "core.echo",
             "input": {"hello": "world"}}
        ),
    )  # fmt: skip
    assert created.status_code == 201, created.content
    assert created.parsed.next_run_at is not None

    preview = _op("schedules", "schedules_preview_create").sync_detailed(
        client=client,
        body=_model("PreviewRequestRequest").from_dict(
            {"kind": "cron", "cron_expression": "30 2 * * *", "count": 3,
             "time_zone": "Europe/Berlin"}
        ),
    )  # fmt: skip
    assert preview.status_code == 200, preview.content
    assert len(preview.parsed.fires) == 3

    accepted = _op("schedules", "schedules_run_now_create").sync_detailed(
        name="life",
        client=client,
        body=_model("RunNowRequest").from_dict({"args": ["one"]}),
    )
    assert accepted.status_code == 202, accepted.content
    run_id = accepted.parsed.id
    assert accepted.headers["location"].endswith(f"/api/v1/runs/{run_id}/")

    run = _wait_for_end(client, run_id)
    assert run.status.value == "succeeded", (run.error, celery_worker.log())
    assert run.output == {"input": {"hello": "world"}, "args": ["one"], "extra": ""}

    paused = _op("schedules", "schedules_pause_create").sync_detailed(
        name="life",
        client=client,
        body=_model("PauseRequest").from_dict({"reason": "done testing"}),
    )
    assert paused.status_code == 200, paused.content
    assert paused.parsed.is_paused is True

    deleted = _op("schedules", "schedules_destroy").sync_detailed(
        name="life", client=client
    )
    assert deleted.status_code == 204
    gone = _op("schedules", "schedules_retrieve").sync_detailed(
        name="life", client=client
    )
    assert gone.status_code == 404
    assert gone.parsed.status == 404


def _wait_for_end(client: Any, run_id: int, timeout: float = 30.0) -> Any:
    retrieve = _op("runs", "runs_retrieve")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = retrieve.sync_detailed(id=run_id, client=client).parsed
        if run.status.value not in ("queued", "in_progress"):
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} did not end within {timeout} s")
