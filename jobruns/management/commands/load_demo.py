"""Demo schedules and connections for a laptop (idempotent: existing names are
left alone)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from connections.models import OutgoingConnection
from connections.services import connection_create
from schedules.models import Schedule
from schedules.services import schedule_create

SYNC_SCHEDULE = "demo.shop-to-redis-and-mail"


def demo_connections(base_url: str) -> list[dict[str, Any]]:
    """The demo shop (served by this project) as a REST source, Django's e-mail
    backend as the SMTP server, and a Redis the laptop probably lacks."""
    return [
        {
            "name": "demo-shop",
            "kind": "rest",
            "settings": {
                "base_url": f"{base_url.rstrip('/')}/demo/shop/wp-json/wc/v3/",
                "auth": "basic",
                "username": "ck_demo",
                "timeout_seconds": 10,
            },
            "secrets": {"password": "cs_demo"},
        },
        {
            "name": "demo-mail",
            "kind": "smtp",
            # "django:" = Django's EMAIL_BACKEND: files under var/mail by default.
            "settings": {"host": "django:", "from_address": "scheduler@localhost"},
            "secrets": {},
        },
        {
            "name": "cache",
            "kind": "redis",
            "settings": {"url": "redis://127.0.0.1:6379/0", "timeout_seconds": 3},
            "secrets": {},
        },
    ]


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
        {
            "name": SYNC_SCHEDULE,
            "description": "The demo shop's products → Redis `cache` → an e-mail "
            "(Django's e-mail backend: var/mail). Paused: point the `cache` "
            "connection at a Redis first, then resume it or press Run now.",
            "kind": "interval",
            "interval_minutes": 15,
            "target": "sync.rest_to_redis_email",
            "input": {
                "rest": "demo-shop",
                "path": "products",
                "redis": "cache",
                "key": "demo:products",
                "smtp": "demo-mail",
                "to": ["you@example.com"],
                "cc": ["team@example.com"],
                "subject": "Demo shop products",
                "body": "The demo shop's products are attached.",
                "attachment_name": "products.json",
            },
            "is_paused": True,
            "paused_reason": "needs a Redis: point the `cache` connection at one",
            "keep_runs_count": 100,
        },
    ]


class Command(BaseCommand):
    help = "Create the demo schedules and connections unless they already exist."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--base-url",
            default="http://127.0.0.1:8000",
            help="Where this site answers (the demo shop is served from it).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        for data in demo_connections(options["base_url"]):
            if OutgoingConnection.objects.filter(name=data["name"]).exists():
                self.stdout.write(f"connection {data['name']}: already there")
                continue
            connection_create(**data, by=None)
            self.stdout.write(f"connection {data['name']}: created")
        for data in demo_schedules(now):
            if Schedule.objects.filter(name=data["name"]).exists():
                self.stdout.write(f"{data['name']}: already there")
                continue
            schedule = schedule_create(data=data, by=None, now=now)
            self.stdout.write(
                f"{schedule.name}: created, next run {schedule.next_run_at}"
            )
