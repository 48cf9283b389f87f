"""Run the whole scheduler (web, worker, beat) as one supervised command."""

from __future__ import annotations

import sys
from typing import IO, Any, cast

from django.core.management.base import BaseCommand, CommandParser

from scheduler_site.supervisor import Supervisor, scheduler_children


class Command(BaseCommand):
    help = (
        "Start web (gunicorn), a Celery worker and beat (with the dispatcher) as "
        "children; Ctrl-C stops them all. A child that dies is reported and restarted."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bind", default="127.0.0.1:8000")
        parser.add_argument("--concurrency", type=int, default=2)

    def handle(self, *args: Any, bind: str, concurrency: int, **options: Any) -> None:
        children = scheduler_children(bind=bind, concurrency=concurrency)
        # The raw stream: children's lines arrive whole and need no styling.
        out = cast(IO[str], self.stdout._out)
        supervisor = Supervisor(children, out=out)
        supervisor.say("supervisor", f"admin at http://{bind}/admin/ ; Ctrl-C stops")
        sys.exit(supervisor.run())
