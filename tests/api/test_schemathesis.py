"""schemathesis against the live schema: no 5xx, and answers match the schema."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from core.accounts import api_token_create

ROOT = Path(__file__).resolve().parents[2]
# Bounded so the run stays a couple of minutes in CI; the seed makes it repeatable.
MAX_EXAMPLES = "8"
SEED = "20261121"


@pytest.mark.django_db(transaction=True)
def test_the_live_api_answers_every_generated_request_within_its_schema(
    live_server: Any, superuser: Any, tmp_path: Path, settings: Any
) -> None:
    # No worker runs here: an invoke would hold its request for wait_seconds.
    settings.SERVICE_INVOKE_MAX_WAIT_SECONDS = 0
    _, token = api_token_create(user=superuser, name="schemathesis")
    result = subprocess.run(
        [
            sys.executable, "-m", "schemathesis.cli", "run",
            f"{live_server.url}/api/schema/",
            "--header", f"Authorization: Bearer {token}",
            "--checks", "not_a_server_error,response_schema_conformance,"
            "content_type_conformance,status_code_conformance",
            "--max-examples", MAX_EXAMPLES, "--seed", SEED,
            "--request-timeout", "30",
            "--report", "junit", "--report-dir", str(tmp_path),
        ],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-12000:] + result.stderr[-3000:]
