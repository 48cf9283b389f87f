"""Demo schedules for a laptop (idempotent: existing names are left alone)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from schedules.models import Schedule
from schedules.services import schedule_create


def demo_schedules(now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "name": "demo.echo-every-10s",
            "description": "Echoes its input every 10 seconds.",
            "kind": "interval",
            "interval_seconds": 10,
            "target": "core.echo",
            "input": {"hello": "world"},
            "extra": "mode=demo",
            "keep_runs_count": 500,
        },
        {
            "name": "demo.daily-runs-report",
            "description": "A CSV of yesterday's runs, every day at 06:00 UTC.",
            "kind": "cron",
            "cron_expression": "0 6 * * *",
            "time_zone": "UTC",
            "target": "reports.runs_csv",
            "input": {"hours": 24},
            "keep_runs_days": 30,
        },
        {
            "name": "demo.one-time-in-a-minute",
            "description": "Runs once, a minute after the demo was loaded.",
            "kind": "one_time",
            "run_at": now + timedelta(minutes=1),
            "target": "core.echo",
            "input": {"once": True},
        },
    ]


class Command(BaseCommand):
    help = "Create the demo schedules unless they already exist."

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        for data in demo_schedules(now):
            if Schedule.objects.filter(name=data["name"]).exists():
                self.stdout.write(f"{data['name']}: already there")
                continue
            schedule = schedule_create(data=data, by=None, now=now)
            self.stdout.write(
                f"{schedule.name}: created, next run {schedule.next_run_at}"
            )
