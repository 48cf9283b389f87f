"""The built-in services, run the way a worker runs them."""

from __future__ import annotations

import csv
import http.server
import io
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.core.files.storage import default_storage

from jobruns.models import JobRun
from jobruns.services import jobrun_enqueue, jobrun_execute
from tests.jobruns.conftest import NOON


def _run(service: str, payload: dict[str, Any], **fields: Any) -> JobRun:
    with mock.patch("jobruns.tasks.execute_run.apply_async"):
        run = jobrun_enqueue(
            service=service, trigger="cli", input_override=payload, now=NOON, **fields
        )
    jobrun_execute(run_id=run.pk, worker="test", in_process=True)
    run.refresh_from_db()
    return run


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        body = json.loads(self.rfile.read(length))
        answer = json.dumps({"got": body, "auth": self.headers["X-Token"]}).encode()
        status = 418 if body.get("teapot") else 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def local_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.django_db
def test_sleep_sleeps_and_says_how_long() -> None:
    run = _run("core.sleep", {"seconds": 0.05})

    assert (run.status, run.output) == ("succeeded", {"slept": 0.05})


@pytest.mark.django_db
def test_http_request_posts_json_and_returns_the_answer(
    local_server: str, settings: Any
) -> None:
    settings.HTTP_REQUEST_ALLOW_PRIVATE = True

    run = _run(
        "http.request",
        {
            "url": f"{local_server}/hook",
            "method": "POST",
            "json": {"n": 1},
            "headers": {"X-Token": "t"},
            "timeout": 5,
        },
    )

    assert run.status == "succeeded", run.error
    assert run.output["status"] == 200
    assert run.output["json"] == {"got": {"n": 1}, "auth": "t"}


@pytest.mark.django_db
def test_http_request_fails_on_an_error_status_but_keeps_the_answer(
    local_server: str, settings: Any
) -> None:
    settings.HTTP_REQUEST_ALLOW_PRIVATE = True

    run = _run(
        "http.request",
        {"url": local_server, "method": "POST", "json": {"teapot": True},
         "headers": {"X-Token": "t"}},
    )  # fmt: skip

    assert (run.status, run.error) == ("failed", "POST answered 418")
    assert run.output is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9/", "http://localhost:9/", "http://[::1]:9/",
     "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/"],
)  # fmt: skip
def test_http_request_refuses_loopback_private_and_link_local_addresses(
    url: str, settings: Any
) -> None:
    settings.HTTP_REQUEST_ALLOW_PRIVATE = False

    run = _run("http.request", {"url": url, "timeout": 1})

    assert run.status == "failed"
    assert "HTTP_REQUEST_ALLOW_PRIVATE" in run.error


@pytest.mark.django_db
def test_http_request_refuses_a_name_with_any_private_address(settings: Any) -> None:
    settings.HTTP_REQUEST_ALLOW_PRIVATE = False
    public_and_private = [
        (2, 1, 6, "", ("93.184.216.34", 80)),
        (2, 1, 6, "", ("192.168.1.5", 80)),
    ]

    with mock.patch("socket.getaddrinfo", return_value=public_and_private):
        run = _run("http.request", {"url": "http://mixed.example/"})

    assert "192.168.1.5" in run.error


@pytest.mark.django_db
def test_http_request_times_out(settings: Any) -> None:
    settings.HTTP_REQUEST_ALLOW_PRIVATE = True
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    try:
        port = silent.getsockname()[1]
        run = _run("http.request", {"url": f"http://127.0.0.1:{port}/", "timeout": 0.3})
    finally:
        silent.close()

    assert run.status == "failed"
    assert "timed out" in run.error


@pytest.mark.django_db
def test_runs_csv_writes_the_period_history_as_a_result_file() -> None:
    earlier = _run("core.echo", {})
    JobRun.objects.filter(pk=earlier.pk).update(queued_at=NOON - timedelta(hours=1))
    _run("core.fail", {})
    JobRun.objects.filter(status="failed").update(queued_at=NOON - timedelta(days=2))

    report = _run(
        "reports.runs_csv", {"until": (NOON + timedelta(minutes=1)).isoformat()}
    )

    assert report.status == "succeeded", report.error
    assert report.output["rows"] == 1
    with default_storage.open(report.result_file.name) as stored:
        rows = list(csv.reader(io.StringIO(stored.read().decode())))
    assert rows[0][:5] == ["id", "schedule", "service", "trigger", "status"]
    assert rows[1][0] == str(earlier.pk)
    assert report.result_file.name == f"runs/{report.pk}/runs.csv"


@pytest.mark.django_db
def test_runs_csv_refuses_a_date_without_offset() -> None:
    run = _run("reports.runs_csv", {"since": "2030-01-01T00:00:00"})

    assert run.status == "failed"
    assert "UTC offset" in run.error
