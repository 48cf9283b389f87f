from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser
from django.utils import timezone

from core.audit import AuditedCommand
from schedules.management.commands._common import get_schedule
from schedules.services import schedule_resume


class Command(AuditedCommand):
    help = "Resume schedule NAME; fires missed while paused are not run."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")

    def handle(self, *args: Any, **options: Any) -> None:
        schedule = get_schedule(options["name"])
        if schedule_resume(schedule=schedule, by=None, now=timezone.now()):
            when = schedule.next_run_at.isoformat() if schedule.next_run_at else "never"
            self.stdout.write(f"{schedule.name} resumed; next run {when}.")
        else:
            self.stdout.write(f"{schedule.name} was not paused.")
