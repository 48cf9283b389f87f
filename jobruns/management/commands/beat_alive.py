"""Exit 0 when beat completed a dispatch tick recently: the beat healthcheck."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = (
        "Healthcheck for `celery beat`: exit 0 when its dispatcher completed a tick "
        "within --within seconds (default 60), else exit 1 with the reason. Run it "
        "where beat runs: it reads BEAT_ALIVE_FILE, which each tick touches."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--within", type=int, default=60)

    def handle(self, *args: Any, within: int, **options: Any) -> None:
        path = settings.BEAT_ALIVE_FILE
        try:
            age = time.time() - path.stat().st_mtime
        except FileNotFoundError:
            raise CommandError(
                f"beat has not completed a dispatch tick yet ({path} is missing)"
            ) from None
        if age > within:
            raise CommandError(
                f"beat's last completed dispatch tick was {age:.0f} s ago "
                f"(more than {within} s)"
            )
        self.stdout.write(f"beat is alive: last dispatch tick {age:.0f} s ago")
