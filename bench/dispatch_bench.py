"""Dispatch latency: how late after its due instant does a run start on a worker?

Runs against the configured database and broker (use a scratch database):

    DATABASE_URL=postgres://... CELERY_BROKER_URL=redis://... \\
        python bench/dispatch_bench.py [SECONDS]

Creates N one-second interval schedules, runs the beat dispatcher loop in this
process and one real worker, then prints percentiles of started_at minus
scheduled_for and deletes what it created.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scheduler_site.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from jobruns.beat import dispatch_tick  # noqa: E402
from jobruns.models import JobRun  # noqa: E402
from schedules.models import Schedule  # noqa: E402
from schedules.services import schedule_create  # noqa: E402

PREFIX = "bench.dispatch-"


def main(seconds: float, schedules: int = 5) -> None:
    Schedule.objects.filter(name__startswith=PREFIX).delete()
    start = timezone.now().replace(microsecond=0) + timedelta(seconds=3)
    for i in range(schedules):
        schedule_create(
            data={"name": f"{PREFIX}{i}", "kind": "interval", "interval_seconds": 1,
                  "start_at": start, "target": "core.echo", "overlap_policy": "allow"},
            by=None, now=timezone.now(),
        )  # fmt: skip
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "scheduler_site", "worker", "-Q",
         "runs", "--concurrency", "4", "--loglevel", "WARNING", "--without-gossip",
         "--without-mingle"],
        cwd=ROOT, start_new_session=True,
    )  # fmt: skip
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            stop.wait(dispatch_tick())
        connection.close()

    thread = threading.Thread(target=loop)
    thread.start()
    try:
        time.sleep(3 + seconds)
    finally:
        stop.set()
        thread.join()
        time.sleep(2)
        worker.terminate()
        worker.wait()
    runs = JobRun.objects.filter(
        schedule_name__startswith=PREFIX, started_at__isnull=False
    )
    late = sorted(
        (run.started_at - run.scheduled_for).total_seconds() * 1000 for run in runs
    )
    Schedule.objects.filter(name__startswith=PREFIX).delete()
    JobRun.objects.filter(schedule_name__startswith=PREFIX).delete()
    if not late:
        print("no runs started; is the broker reachable?")
        return
    p99 = late[min(len(late) - 1, int(len(late) * 0.99))]
    print("| runs | p50 ms | p99 ms | max ms | database | broker |")
    print("| --- | --- | --- | --- | --- | --- |")
    print(
        f"| {len(late)} | {statistics.median(late):.0f} | {p99:.0f} | {late[-1]:.0f} "
        f"| {connection.vendor} | {os.environ.get('CELERY_BROKER_URL', 'filesystem')}"
        " |"
    )


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 20)
