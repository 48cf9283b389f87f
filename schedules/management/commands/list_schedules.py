from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from schedules.models import Schedule


class Command(BaseCommand):
    help = "List schedules: name, state, target, next and last run (UTC)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--paused", action="store_true", help="only paused ones")

    def handle(self, *args: Any, **options: Any) -> None:
        schedules = Schedule.objects.order_by("name")
        if options["paused"]:
            schedules = schedules.filter(is_paused=True)
        rows = [("NAME", "STATE", "TARGET", "NEXT RUN", "LAST RUN")]
        for schedule in schedules:
            state = "paused" if schedule.is_paused else "active"
            rows.append(
                (
                    schedule.name,
                    state,
                    schedule.target,
                    _when(schedule.next_run_at),
                    _when(schedule.last_run_at),
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        for row in rows:
            line = "  ".join(
                cell.ljust(width) for cell, width in zip(row, widths, strict=True)
            )
            self.stdout.write(line.rstrip())


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"
