from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser
from django.utils import timezone

from core.audit import AuditedCommand
from schedules.management.commands._common import get_schedule
from schedules.services import schedule_pause


class Command(AuditedCommand):
    help = "Pause schedule NAME (no fires until resumed; run now still works)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--reason", default="paused from the command line")

    def handle(self, *args: Any, **options: Any) -> None:
        schedule = get_schedule(options["name"])
        changed = schedule_pause(
            schedule=schedule, by=None, reason=options["reason"], now=timezone.now()
        )
        state = "paused" if changed else "was already paused"
        self.stdout.write(f"{schedule.name} {state}.")
