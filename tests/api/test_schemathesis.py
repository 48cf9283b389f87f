"""schemathesis against the live schema: no 5xx, and answers match the schema.

Every operation of the schema must be exercised (checked against the run's
JUnit report), and the run is bounded: few examples per operation, two
workers, a fixed seed, and a timeout of its own. The compatible endpoints the
schema does not describe are fuzzed by tests/faults/test_compat_fuzz.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from core.accounts import api_token_create

ROOT = Path(__file__).resolve().parents[2]
LOG = ROOT / "var" / "test-logs" / "schemathesis.log"
# Bounded so the run stays a few minutes in CI; the seed makes it repeatable.
MAX_EXAMPLES = "8"
SEED = "20261121"
METHODS = {"get", "post", "put", "patch", "delete"}


def _schema_operations(url: str, token: str) -> set[str]:
    request = urllib.request.Request(
        f"{url}/api/schema/?format=json",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        schema = json.load(response)
    return {
        f"{method.upper()} {path}"
        for path, item in schema["paths"].items()
        for method in item
        if method in METHODS
    }


def _tested_operations(report_dir: Path) -> set[str]:
    names: set[str] = set()
    for report in report_dir.glob("*.xml"):
        tree = ET.parse(report)
        names |= {case.get("name", "") for case in tree.iter("testcase")}
    return names


@pytest.mark.timeout(900)
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
            "--max-examples", MAX_EXAMPLES, "--seed", SEED, "--workers", "2",
            "--request-timeout", "30",
            "--report", "junit", "--report-dir", str(tmp_path),
        ],
        cwd=ROOT, capture_output=True, text=True, timeout=840,
    )  # fmt: skip
    LOG.parent.mkdir(parents=True, exist_ok=True)
    LOG.write_text(result.stdout + result.stderr)
    assert result.returncode == 0, result.stdout[-12000:] + result.stderr[-3000:]

    missing = _schema_operations(live_server.url, token) - _tested_operations(tmp_path)
    assert not missing, f"operations schemathesis never ran: {sorted(missing)}"
