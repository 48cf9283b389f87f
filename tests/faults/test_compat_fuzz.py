"""A plain-HTTP fuzz of the compatible endpoints (and the native file download).

schemathesis covers what the OpenAPI schema describes; the compatible APIs are
driven by clients that never read our schema, so this sends what such clients
and attackers send: malformed JSON, wrong types, deep nesting, huge bodies,
NUL, lone surrogates and other unicode in paths, queries and bodies, and path
traversal in names and file downloads. Every answer must be below 500.

Deterministic (a fixed seed and count) and bounded in time: it stops sending
once TIME_BUDGET is spent and says how many requests it made.
"""

from __future__ import annotations

import http.client
import json
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from core.accounts import api_token_create
from jobruns.models import JobRun
from jobruns.services import jobrun_claim, jobrun_enqueue, jobrun_finish
from schedules.services import schedule_create

SEED = 20261201
REQUESTS = 700
TIME_BUDGET = 45.0  # seconds; the test as a whole stays under a minute

# Path pieces: names, ids, traversal, NUL, encodings that do not decode.
NAMES = [
    "nightly", "missing", "x%00", "%00", "..", "..%2f..%2fetc%2fpasswd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "....//....//etc/passwd", "%ff%fe", "%c0%af",
    quote("ä€😀"), quote("\u202e\u200b"), "9" * 40, "-1", "0", "1e9", "%ud800",
    "a" * 2000, "%20", "null", "[]", "{}", "'\"<script>",
]  # fmt: skip
QUERY_VALUES = [
    "", "0", "-1", "9" * 30, "-99999999999999999", "abc", "%00", "a%00b", "%ff",
    quote("ä"), "1.5", "true", "null", "[]", "%2e%2e%2f", "x" * 5000,
    "scheduleName=nightly AND state IN (RUNNING)", "startTime>99999999999999999999",
]  # fmt: skip
QUERY_KEYS = [
    "cronExpression", "scheduleStartTime", "scheduleEndTime", "limit", "start",
    "size", "sort", "query", "freeText", "workflowName", "maxResults", "startAt",
    "jobId", "offset", "page_size", "page", "%00", "x%00y",
]  # fmt: skip
SCALARS: list[Any] = [
    None, True, 0, -1, 2**63, -(2**63) - 1, 1e308, "", "x", "\u0000", "a\u0000b",
    "\u202e", "😀", "x" * 20_000, "../../etc/passwd", "0 0 * * * *", "\uff11 * * * * *",
    "Europe/Berlin", "localtime", [], {}, [1, "a"], {"k\u0000": "v"},
]  # fmt: skip


@dataclass
class Endpoint:
    method: str
    path: str  # {name}, {job}, {run}, {execution} are filled in
    body: Any = None  # a valid body to mutate, or None
    headers: str = (
        "bearer"  # bearer (native and Conductor) | openspecimen | basic | none
    )


ENDPOINTS = [
    # Conductor
    Endpoint("GET", "/api/scheduler/schedules"),
    Endpoint(
        "POST",
        "/api/scheduler/schedules",
        {
            "name": "fuzzed",
            "cronExpression": "0 0 * * * *",
            "startWorkflowRequest": {"name": "core.echo", "input": {"a": 1}},
            "scheduleStartTime": 0,
            "zoneId": "UTC",
            "tags": [{"key": "k", "value": "v"}],
        },
    ),
    Endpoint("GET", "/api/scheduler/schedules/{name}"),
    Endpoint("DELETE", "/api/scheduler/schedules/{name}"),
    Endpoint("GET", "/api/scheduler/schedules/{name}/pause"),
    Endpoint("PUT", "/api/scheduler/schedules/{name}/resume"),
    Endpoint(
        "PUT", "/api/scheduler/schedules/{name}/tags", [{"key": "k", "value": "v"}]
    ),
    Endpoint("DELETE", "/api/scheduler/schedules/{name}/tags", [{"key": "k"}]),
    Endpoint("GET", "/api/scheduler/nextFewSchedules"),
    Endpoint("GET", "/api/scheduler/search/executions"),
    Endpoint("POST", "/api/scheduler/admin/requeue"),
    Endpoint("POST", "/api/token", {"keyId": "ck_x", "keySecret": "y"}, "none"),
    Endpoint("POST", "/api/workflow", {"name": "core.echo", "input": {}}),
    Endpoint("GET", "/api/scheduler/{name}"),
    # OpenSpecimen
    Endpoint("POST", "/rest/ng/sessions", {"loginName": "x", "password": "y"}, "none"),
    Endpoint("GET", "/rest/ng/scheduled-jobs", None, "openspecimen"),
    Endpoint(
        "POST",
        "/rest/ng/scheduled-jobs",
        {
            "name": "os-fuzz",
            "taskImplfqn": "core.echo",
            "repeatSchedule": "DAILY",
            "startDate": 1900000000000,
            "scheduledHour": 2,
            "scheduledMinute": 30,
            "type": "INTERNAL",
            "activity": "ACTIVE",
        },
        "openspecimen",
    ),
    Endpoint("GET", "/rest/ng/scheduled-jobs/count", None, "openspecimen"),
    Endpoint("GET", "/rest/ng/scheduled-jobs/{job}", None, "openspecimen"),
    Endpoint(
        "PUT", "/rest/ng/scheduled-jobs/{job}", {"name": "renamed"}, "openspecimen"
    ),
    Endpoint("DELETE", "/rest/ng/scheduled-jobs/{job}", None, "openspecimen"),
    Endpoint("GET", "/rest/ng/scheduled-jobs/{job}/runs", None, "openspecimen"),
    Endpoint(
        "POST", "/rest/ng/scheduled-jobs/{job}/runs", {"args": "a b"}, "openspecimen"
    ),
    Endpoint("GET", "/rest/ng/scheduled-jobs/{job}/runs/{run}", None, "openspecimen"),
    Endpoint(
        "GET",
        "/rest/ng/scheduled-jobs/{job}/runs/{run}/result-file",
        None,
        "openspecimen",
    ),
    Endpoint("GET", "/rest/ng/{name}", None, "openspecimen"),
    # elastic.io
    Endpoint(
        "POST",
        "/v1/exec/schedule",
        {
            "execution_type": "verify_credentials",
            "component": "woocommerce",
            "account_data": {
                "url": "https://shop.example.com",
                "consumer_key": "ck",
                "consumer_secret": "cs",
            },
        },
        "basic",
    ),
    Endpoint("GET", "/v1/exec/poll/{execution}", None, "basic"),
    Endpoint("GET", "/v1/exec/result/{execution}", None, "basic"),
    Endpoint(
        "POST",
        "/v2/components/{name}/versions/latest/verify-credential",
        {
            "data": {
                "type": "verify-credential",
                "attributes": {"fields": {}},
                "relationships": {
                    "workspace": {"data": {"id": "w", "type": "workspace"}}
                },
            },
        },
        "basic",
    ),
    Endpoint(
        "POST",
        "/v2/components/woocommerce/versions/{name}/select-model",
        {
            "data": {
                "type": "select-model",
                "attributes": {
                    "module": "list_products",
                    "method": "categories",
                    "fields": {},
                },
                "relationships": {
                    "workspace": {"data": {"id": "w", "type": "workspace"}},
                    "credential": {"data": {"id": "1", "type": "credential"}},
                },
            },
        },
        "basic",
    ),
    Endpoint("GET", "/v2/exec/poll/{execution}", None, "basic"),
    Endpoint("GET", "/v2/exec/result/{execution}", None, "basic"),
    # Native file download (path traversal in the id)
    Endpoint("GET", "/api/v1/runs/{run}/result-file/"),
]


def _mutate(value: Any, rng: random.Random, depth: int = 0) -> Any:
    """A copy of `value` with one or more leaves or keys replaced by hostile ones."""
    if isinstance(value, dict) and value and depth < 6:
        out = dict(value)
        key = rng.choice(list(out))
        action = rng.random()
        if action < 0.5:
            out[key] = _mutate(out[key], rng, depth + 1)
        elif action < 0.7:
            out[key] = rng.choice(SCALARS)
        elif action < 0.85:
            out.pop(key)
        else:
            out[rng.choice(["\u0000", "é", "__proto__", "x" * 300, ""])] = rng.choice(
                SCALARS
            )
        return out
    if isinstance(value, list) and value and depth < 6:
        return [_mutate(item, rng, depth + 1) for item in value]
    return rng.choice(SCALARS)


def _raw_body(endpoint: Endpoint, rng: random.Random) -> bytes | None:
    if endpoint.method in {"GET", "DELETE"} and rng.random() < 0.7:
        return None
    valid = endpoint.body if endpoint.body is not None else {}
    kind = rng.random()
    if kind < 0.45:
        return json.dumps(_mutate(valid, rng)).encode()
    if kind < 0.55:
        text = json.dumps(valid)
        return text[: rng.randrange(len(text) + 1)].encode()  # truncated JSON
    if kind < 0.62:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
    if kind < 0.70:
        depth = rng.choice([65, 200, 1000, 5000])
        return ("[" * depth + "]" * depth).encode()
    if kind < 0.75:
        return b'{"a": "' + b"x" * 1_100_000 + b'"}'  # over the body limit
    if kind < 0.82:
        # A lone surrogate: valid JSON escape, invalid text in the database.
        return json.dumps(valid).replace('"', '"\\ud800', 1).encode()
    if kind < 0.88:
        return json.dumps(rng.choice(SCALARS)).encode()
    if kind < 0.94:
        return b'{"a": NaN, "b": Infinity, "c": 1e99999}'
    return json.dumps(valid).encode()


def _query(rng: random.Random) -> str:
    if rng.random() < 0.4:
        return ""
    pairs = [
        f"{rng.choice(QUERY_KEYS)}={rng.choice(QUERY_VALUES)}"
        for _ in range(rng.randrange(1, 4))
    ]
    return "?" + "&".join(pairs)


@dataclass
class Fixture:
    headers: dict[str, dict[str, str]]
    ids: dict[str, list[str]]


@pytest.fixture
def world(superuser: Any, settings: Any, tmp_path: Any) -> Fixture:
    import base64

    settings.MEDIA_ROOT = str(tmp_path / "media")
    now = timezone.now()
    _, token = api_token_create(user=superuser, name="fuzz")
    schedule = schedule_create(
        data={"name": "nightly", "kind": "cron", "cron_expression": "0 2 * * *",
              "time_zone": "UTC", "target": "core.echo",
              "start_at": now + timedelta(days=1)},
        by=None, now=now,
    )  # fmt: skip
    run = jobrun_enqueue(schedule=schedule, trigger="manual", now=now, send=False)
    jobrun_claim(run_id=run.pk, worker="fuzz", now=now)
    name = default_storage.save(f"runs/{run.pk}/out.csv", ContentFile(b"a,b\n"))
    jobrun_finish(run_id=run.pk, status=JobRun.Status.SUCCEEDED, now=now,
                  result_file=name)  # fmt: skip
    basic = base64.b64encode(f"{superuser.email}:{token}".encode()).decode()
    return Fixture(
        headers={
            "bearer": {"Authorization": f"Bearer {token}"},
            "openspecimen": {"X-OS-API-TOKEN": token},
            "basic": {"Authorization": f"Basic {basic}"},
            "none": {},
        },
        ids={
            "name": [*NAMES, "nightly"],
            "job": [str(schedule.pk), *NAMES],
            "run": [str(run.pk), *NAMES],
            "execution": ["5f0c6f7e-3b1a-4c1e-9d2a-7e8f90a1b2c3", *NAMES],
        },
    )


def _requests(
    world: Fixture, rng: random.Random
) -> Iterator[tuple[str, str, bytes | None, dict[str, str]]]:
    for _ in range(REQUESTS):
        endpoint = rng.choice(ENDPOINTS)
        path = endpoint.path
        for slot, choices in world.ids.items():
            path = path.replace("{" + slot + "}", rng.choice(choices))
        headers = dict(world.headers[endpoint.headers])
        body = _raw_body(endpoint, rng)
        if body is not None:
            headers["Content-Type"] = rng.choice(
                ["application/json", "application/json", "application/vnd.api+json",
                 "text/plain", "application/json; charset=latin-1"]
            )  # fmt: skip
        yield endpoint.method, path + _query(rng), body, headers


@pytest.mark.requires_postgres
@pytest.mark.django_db(transaction=True)
def test_the_compatible_endpoints_never_answer_5xx_to_hostile_requests(
    live_server: Any, world: Fixture
) -> None:
    rng = random.Random(SEED)
    address = urlsplit(live_server.url)
    offences: list[str] = []
    sent = 0
    started = time.monotonic()
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    for method, path, body, headers in _requests(world, rng):
        if time.monotonic() - started > TIME_BUDGET:
            break
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            answer = response.read()
        except (http.client.HTTPException, OSError):
            # The server may close a connection after refusing a large body.
            connection.close()
            connection = http.client.HTTPConnection(
                address.hostname, address.port, timeout=30
            )
            continue
        sent += 1
        if response.status >= 500:
            shown = (body or b"")[:200]
            offences.append(
                f"{response.status} {method} {path[:200]} {shown!r} -> {answer[:300]!r}"
            )
        if response.getheader("Connection", "").lower() == "close":
            connection.close()
            connection = http.client.HTTPConnection(
                address.hostname, address.port, timeout=30
            )
    connection.close()

    print(f"compat fuzz: {sent} requests in {time.monotonic() - started:.1f} s")  # noqa: T201
    assert sent >= 200, f"only {sent} requests answered within the time budget"
    assert not offences, f"{len(offences)} x 5xx:\n" + "\n".join(offences[:40])
