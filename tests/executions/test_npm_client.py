"""The real npm client `elasticio-rest-node` drives our v1 endpoints end to end."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.executions.fakeshop import FakeShop
from tests.support.services import service_missing

NODE_DIR = Path(__file__).parent / "node"
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def node_client() -> Path:
    if not shutil.which("node") or not shutil.which("npm"):
        service_missing(
            "needs Node.js and npm on PATH for the elasticio-rest-node client"
        )
    if not (NODE_DIR / "node_modules" / "elasticio-rest-node").exists():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=NODE_DIR,
            check=True,
            capture_output=True,
            timeout=300,
        )
    return NODE_DIR / "drive_v1.js"


@pytest.mark.requires_postgres
@pytest.mark.requires_redis
@pytest.mark.requires_worker
@pytest.mark.django_db(transaction=True)
def test_elasticio_rest_node_schedules_polls_and_reads_a_verify_result(
    node_client: Path,
    live_server: Any,
    superuser: Any,
    start_worker: Any,
    shop: FakeShop,
) -> None:
    start_worker(queues="executions", extra_env={"HTTP_REQUEST_ALLOW_PRIVATE": "1"})
    body = {
        "execution_type": "verify_credentials",
        "component": "woocommerce",
        "account_data": shop.cfg(),
    }
    done = subprocess.run(
        ["node", str(node_client), "alice-admin", PASSWORD, json.dumps(body)],
        env={**os.environ, "ELASTICIO_API_URI": live_server.url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["scheduled"]["message"] == "ok"
    assert answer["scheduled"]["location"].startswith(
        f"{live_server.url}/v1/exec/poll/"
    )
    assert answer["result"] == {"data": {"verified": True}}
