"""Write schedules as JSON or YAML (to a file or stdout with `-`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from schedules.models import Schedule
from schedules.transfer import FORMATS, dump, format_for, schedule_record


class Command(BaseCommand):
    help = "Export schedules (definition, tags, pause state) as JSON or YAML."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "path", nargs="?", default="-", help="file, or - for stdout"
        )
        parser.add_argument(
            "--format",
            dest="fmt",
            choices=FORMATS,
            help="default: by extension, else json",
        )
        parser.add_argument(
            "--name",
            action="append",
            default=[],
            help="only these schedules (repeatable)",
        )

    def handle(
        self, *args: Any, path: str, fmt: str | None, name: list[str], **options: Any
    ) -> None:
        schedules = Schedule.objects.prefetch_related("tags").order_by("name")
        if name:
            schedules = schedules.filter(name__in=name)
        text = dump(
            (schedule_record(schedule) for schedule in schedules),
            format_for(path, fmt),
        )
        if path == "-":
            self.stdout.write(text, ending="")
        else:
            Path(path).write_text(text, encoding="utf-8")
            self.stderr.write(f"{schedules.count()} schedules written to {path}")
