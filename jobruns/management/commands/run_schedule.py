"""Run a schedule now (even when paused, as Zato's Execute does)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandParser
from django.utils import timezone

from core.audit import AuditedCommand
from core.commands import bad_input, messages
from jobruns.management.commands._common import report, wait_for
from jobruns.models import JobRun
from jobruns.services import jobrun_enqueue
from schedules.management.commands._common import get_schedule


class Command(AuditedCommand):
    help = "Queue a run of schedule NAME now with optional ARGS; --wait for its end."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument(
            "service_args", nargs="*", metavar="ARGS", help="strings for the service"
        )
        parser.add_argument("--wait", action="store_true")
        parser.add_argument("--timeout", type=float, default=3600)

    def handle(self, *args: Any, **options: Any) -> None:
        schedule = get_schedule(options["name"])
        try:
            run = jobrun_enqueue(
                schedule=schedule,
                trigger=JobRun.Trigger.CLI,
                args=options["service_args"],
                by="cli",
                now=timezone.now(),
            )
        except ValidationError as exc:
            raise bad_input(messages(exc)) from None
        self.stderr.write(f"Queued run #{run.pk} of {schedule.name}.")
        if options["wait"]:
            report(self, wait_for(run, timeout=options["timeout"]))
        else:
            self.stdout.write(str(run.pk))
