"""OpenSpecimen clients against a live server, Postgres, Redis and a real worker.

Plain HTTP (urllib) the way an OpenSpecimen script talks: sign in, create a
job, run it with args, wait for the run to end, read it back, download its
result file; then the same run is seen through our own model and admin.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from jobruns.models import JobRun
from tests.conftest import PASSWORD

pytestmark = [
    pytest.mark.requires_postgres,
    pytest.mark.requires_redis,
    pytest.mark.requires_worker,
    pytest.mark.django_db(transaction=True),
]


class Http:
    """Just urllib: JSON in, (status, headers, body) out, the token once signed in."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/") + "/rest/ng"
        self.token = ""

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any, bytes]:
        request = urllib.request.Request(
            self.base + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Accept": "*/*"},
        )
        if self.token:
            request.add_header("X-OS-API-TOKEN", self.token)
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, answer.headers, answer.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()

    def json(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        status, _, raw = self.call(method, path, body)
        return status, json.loads(raw)

    def sign_in(self, login: str, password: str) -> None:
        status, session = self.json(
            "POST", "/sessions", {"loginName": login, "password": password}
        )
        assert status == 200, session
        self.token = session["token"]


def _wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _finished(http: Http, job_id: int) -> Callable[[], Any]:
    def check() -> Any:
        _, runs = http.json("GET", f"/scheduled-jobs/{job_id}/runs")
        return runs if runs and runs[0]["status"] != "IN_PROGRESS" else None

    return check


def _job(name: str, service: str) -> dict[str, Any]:
    return {
        "name": name,
        "type": "INTERNAL",
        "taskImplFqn": service,
        "repeatSchedule": "ONDEMAND",
        "fixedArgs": "--fixed text",
    }


def test_a_job_runs_with_its_args_on_a_real_worker_and_reads_back(
    celery_worker: Any, live_server: Any, superuser: Any, client: Client
) -> None:
    http = Http(live_server.url)
    http.sign_in(superuser.username, PASSWORD)
    status, job = http.json("POST", "/scheduled-jobs", _job("Echo args", "core.echo"))
    assert status == 200, job

    status, answered = http.json(
        "POST", f"/scheduled-jobs/{job['id']}/runs", {"args": "a b c"}
    )
    runs = _wait_for(_finished(http, job["id"]), 30, "the echo run to end")

    assert status == 200
    assert answered["id"] == job["id"]
    assert [(r["status"], r["rtArgs"]) for r in runs] == [("SUCCEEDED", "a b c")]
    assert runs[0]["runBy"]["loginName"] == superuser.username
    status, detail = http.json(
        "GET", f"/scheduled-jobs/{job['id']}/runs/{runs[0]['id']}"
    )
    assert status == 200
    assert detail == runs[0]
    # The same run through our own model: the service received the args and
    # the job's fixed args as its raw request.
    run = JobRun.objects.get(pk=runs[0]["id"])
    assert run.output == {
        "input": {},
        "args": ["a", "b", "c"],
        "extra": "--fixed text",
    }
    assert run.worker == celery_worker.hostname
    assert run.schedule_id == job["id"]
    client.force_login(superuser)
    admin_page = client.get(reverse("admin:jobruns_jobrun_change", args=[run.pk]))
    assert admin_page.status_code == 200
    assert b"Echo-args" in admin_page.content


def test_a_report_jobs_csv_downloads_as_the_runs_result_file(
    celery_worker: Any, live_server: Any, superuser: Any
) -> None:
    http = Http(live_server.url)
    http.sign_in(superuser.username, PASSWORD)
    _, job = http.json("POST", "/scheduled-jobs", _job("Runs CSV", "reports.runs_csv"))

    http.json("POST", f"/scheduled-jobs/{job['id']}/runs", {"args": ""})
    runs = _wait_for(_finished(http, job["id"]), 30, "the report run to end")
    status, headers, body = http.call(
        "GET", f"/scheduled-jobs/{job['id']}/runs/{runs[0]['id']}/result-file"
    )

    assert runs[0]["status"] == "SUCCEEDED", runs[0]
    assert runs[0]["logFilePath"].endswith("runs.csv")
    assert status == 200
    assert headers["Content-Disposition"] == 'attachment; filename="runs.csv"'
    assert body.startswith(b"id,schedule,service,trigger,status")


def test_a_second_run_request_while_the_first_runs_is_refused(
    celery_worker: Any, live_server: Any, superuser: Any
) -> None:
    http = Http(live_server.url)
    http.sign_in(superuser.username, PASSWORD)
    _, job = http.json("POST", "/scheduled-jobs", _job("Sleeper", "core.sleep"))
    path = f"/scheduled-jobs/{job['id']}/runs"

    first, _ = http.json("POST", path, {"args": "1"})
    second, refused = http.json("POST", path, {"args": "2"})
    runs = _wait_for(_finished(http, job["id"]), 30, "the sleep run to end")
    third, _ = http.json("POST", path, {"args": "3"})

    assert (first, second, third) == (200, 400, 200)
    assert refused[0]["code"] == "SCHEDULED_JOB_RUN_IN_PROGRESS"
    assert [(r["status"], r["rtArgs"]) for r in runs] == [("SUCCEEDED", "1")]
