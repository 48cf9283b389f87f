from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from jobruns.services import jobrun_requeue_stale


class Command(BaseCommand):
    help = "Re-send queued runs whose message may be lost (after a broker restart)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            type=float,
            default=0,
            help="only runs last sent this many seconds ago or more (default: all)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        count = jobrun_requeue_stale(
            now=timezone.now(), older_than=options["older_than"]
        )
        self.stdout.write(f"Re-sent {count} queued run(s).")
