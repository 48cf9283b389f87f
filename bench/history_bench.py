"""History: the run lists at N stored runs, p50/p99 per page, statements per request.

Runs against the configured database (PostgreSQL); give it a SCRATCH database
(it migrates it, fills it and deletes what it made unless --keep):

    DATABASE_URL=postgres://.../scratch python bench/history_bench.py 1000000

N runs of 10,000 schedules (the issue's size; --schedules) are written by one
``INSERT ... SELECT generate_series`` (seconds, not hours, at a million), then
VACUUM ANALYZEd. Each list is read through
Django's test client (the whole request path: middleware, authentication,
permission, serializer, renderer; no network) with the credential its clients
send: the native ``/api/v1/runs/`` (bearer token), Conductor
``/api/scheduler/search/executions`` (bearer token), OpenSpecimen
``/rest/ng/scheduled-jobs/{id}/runs`` (session token), the admin run list
(signed-in session). For each, the first page and a deep-ish page (offset 5,000)
are timed --repeat times, and at the main size a page in another order each list
offers ("sorted": the admin by status descending, the native list by
``-started_at`` at offset 5,000, Conductor by ``state:DESC`` at start 5,000); the
table shows p50/p99/max and statements per request.
The peer column is the first page of the same list at --peer-size runs, measured
in the same run, so the ratio says what the growth from there costs.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
# BENCH_ROOT: measure another checkout (the "before" figures) with this bench.
ROOT = Path(os.environ.get("BENCH_ROOT", HERE))
sys.path[:0] = [str(ROOT)]
os.chdir(ROOT)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scheduler_site.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from core.accounts import api_token_create  # noqa: E402
from schedules.models import Schedule  # noqa: E402

PREFIX = "bench-history-"
SCHEDULES = 10_000  # the issue: run lists at 10k schedules and 1M runs
DEEP_OFFSET = 5000


@dataclass
class Row:
    name: str
    size: int
    page: str
    times_ms: list[float]
    statements: int
    status: int

    def pct(self, p: float) -> float:
        ordered = sorted(self.times_ms)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def cleanup() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM jobruns_jobrun WHERE schedule_name LIKE %s", [PREFIX + "%"]
        )
    Schedule.objects.filter(name__startswith=PREFIX).delete()
    get_user_model().objects.filter(username=PREFIX + "admin").delete()
    with connection.cursor() as cursor:
        # Give the deleted rows' pages back before the next size is seeded:
        # otherwise the new rows go after them and a 10,000-run table is as
        # long as the million before it (its plans and times with it).
        cursor.execute("VACUUM jobruns_jobrun")


def seed(total: int) -> list[Schedule]:
    """`total` finished runs spread over SCHEDULES schedules, one statement."""
    schedules = Schedule.objects.bulk_create(
        Schedule(
            name=f"{PREFIX}{i:05d}",
            kind="interval",
            interval_hours=1,
            target="core.echo",
            overlap_policy="allow",
        )
        for i in range(SCHEDULES)
    )
    first = min(s.pk for s in schedules)
    # Schedule pks are consecutive here (created in one go on an idle table);
    # each run i belongs to schedule first + i % SCHEDULES and fired i seconds
    # before now, so (schedule, scheduled_for) stays unique as the model wants.
    assert max(s.pk for s in schedules) - first == SCHEDULES - 1
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO jobruns_jobrun (
                schedule_id, schedule_name, service, trigger, scheduled_for,
                triggered_by_label, correlation_id, args, input, extra,
                time_limit_seconds, status, exclusive, queued_at, sent_at,
                started_at, finished_at, worker, celery_task_id, attempt,
                output, log, error, traceback, result_file, skip_reason,
                skipped_count, has_waiter
            )
            SELECT %(first)s + i %% %(n)s,
                   %(prefix)s || lpad((i %% %(n)s)::text, 5, '0'),
                   'core.echo', 'scheduled', fire,
                   '', '', '{}'::jsonb, '{}'::jsonb, '', 0,
                   CASE WHEN i %% 50 = 0 THEN 'failed' ELSE 'succeeded' END,
                   false, fire, fire, fire + interval '5 ms',
                   fire + interval '20 ms', 'bench@host', '', 1,
                   '{}'::jsonb, 'ok', CASE WHEN i %% 50 = 0 THEN 'boom' ELSE '' END,
                   '', '', '', 0, false
            FROM generate_series(1, %(total)s) AS i,
                 LATERAL (SELECT now() - i * interval '1 second' AS fire) AS f
            """,
            {"first": first, "n": SCHEDULES, "prefix": PREFIX, "total": total},
        )
        # VACUUM too: a previous size's deleted rows must not slow the index scans.
        cursor.execute("VACUUM ANALYZE jobruns_jobrun")
    print(
        f"seeded {total:,} runs in {time.perf_counter() - started:.1f} s "
        "(one INSERT ... SELECT generate_series, then VACUUM ANALYZE)"
    )
    return schedules


def measure(
    client: Client, name: str, size: int, page: str, url: str, headers: dict[str, str],
    repeat: int,
) -> Row:  # fmt: skip
    times = []
    statements = 0
    status = 0
    client.get(url, headers=headers)  # warm the cache and the plan
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(url, headers=headers)
            times.append((time.perf_counter() - started) * 1000)
        statements = len(queries)
        status = response.status_code
    return Row(name, size, page, times, statements, status)


def run_lists(size: int, schedule: Schedule, repeat: int, deep: bool) -> list[Row]:
    user = get_user_model().objects.create_superuser(
        PREFIX + "admin", "bench@example.com", "x"
    )
    _, raw = api_token_create(user=user, name="bench")
    bearer = {"Authorization": f"Bearer {raw}"}
    os_token = {"X-OS-API-TOKEN": raw}
    client = Client()
    admin = Client()
    admin.force_login(user)
    cases = [
        ("native /api/v1/runs/", client, "/api/v1/runs/?limit=50", bearer),
        (
            "conductor search/executions",
            client,
            "/api/scheduler/search/executions?size=50",
            bearer,
        ),
        (
            "openspecimen job runs",
            client,
            f"/rest/ng/scheduled-jobs/{schedule.pk}/runs?maxResults=50",
            os_token,
        ),
        ("admin run list", admin, "/admin/jobruns/jobrun/", {}),
    ]
    deep_suffix = {
        "native /api/v1/runs/": f"&offset={DEEP_OFFSET}",
        "conductor search/executions": f"&start={DEEP_OFFSET}",
        # One schedule holds size/SCHEDULES runs: go as deep as it allows.
        "openspecimen job runs": f"&startAt={min(DEEP_OFFSET, size // SCHEDULES // 2)}",
        "admin run list": f"?p={DEEP_OFFSET // 100}",
    }
    # A page in another order each list offers (OpenSpecimen offers none):
    # the admin by status descending, the API by start, Conductor by state.
    sorted_suffix = {
        "native /api/v1/runs/": f"&ordering=-started_at&offset={DEEP_OFFSET}",
        "conductor search/executions": f"&sort=state:DESC&start={DEEP_OFFSET}",
        "admin run list": "?o=-3",
    }
    rows = []
    for name, who, url, headers in cases:
        rows.append(measure(who, name, size, "first", url, headers, repeat))
        if deep:
            deep_url = url + deep_suffix[name]
            rows.append(measure(who, name, size, "deep", deep_url, headers, repeat))
        if deep and name in sorted_suffix:
            sorted_url = url + sorted_suffix[name]
            rows.append(measure(who, name, size, "sorted", sorted_url, headers, repeat))
    get_user_model().objects.filter(pk=user.pk).delete()
    return rows


def print_table(rows: list[Row], peers: dict[str, Row]) -> None:
    print(
        "| list | runs | page | p50 ms | p99 ms | max ms | statements | HTTP "
        "| p99 vs first page at peer size |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        peer = peers.get(row.name)
        ratio = f"{row.pct(99) / peer.pct(99):.1f}x" if peer else "-"
        print(
            f"| {row.name} | {row.size:,} | {row.page} | {row.pct(50):.1f} "
            f"| {row.pct(99):.1f} | {max(row.times_ms):.1f} | {row.statements} "
            f"| {row.status} | {ratio} |"
        )


def main() -> None:
    global SCHEDULES
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("size", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--peer-size", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=100)
    parser.add_argument("--keep", action="store_true", help="keep the seeded runs")
    parser.add_argument(
        "--schedules", type=int, default=SCHEDULES, help="schedules the runs belong to"
    )
    args = parser.parse_args()
    SCHEDULES = args.schedules
    if connection.vendor != "postgresql":
        sys.exit("history_bench needs PostgreSQL (DATABASE_URL=postgres://...)")
    # Count statements without DEBUG's other costs in the timed path: the
    # capture context turns query logging on for its own block only.
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    call_command("migrate", verbosity=0)
    cleanup()
    peers: dict[str, Row] = {}
    results: list[Row] = []
    try:
        for size, deep in ((args.peer_size, False), (args.size, True)):
            schedules = seed(size)
            rows = run_lists(size, schedules[0], args.repeat, deep)
            if size == args.peer_size:
                peers = {row.name: row for row in rows}
            results.extend(rows)
            if size != args.size or not args.keep:
                cleanup()
    except BaseException:
        cleanup()
        raise
    print()
    print_table(results, peers)
    print()
    print(
        f"{args.repeat} requests per row after one warm-up, Django test client, "
        f"{connection.vendor} {connection.pg_version}, Python "  # type: ignore[attr-defined]
        f"{platform.python_version()}, Django {django.get_version()}, "
        f"{os.cpu_count()} cores, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    for row in results:
        if row.status != 200:
            sys.exit(f"{row.name} ({row.page}) answered HTTP {row.status}")


if __name__ == "__main__":
    main()
