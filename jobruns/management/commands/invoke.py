"""Invoke a service by name, in this process, through the worker's code path."""

from __future__ import annotations

import json
import socket
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandParser
from django.utils import timezone

from core.audit import AuditedCommand
from core.commands import bad_input, messages
from jobruns.management.commands._common import report, wait_for
from jobruns.models import JobRun
from jobruns.services import jobrun_enqueue, jobrun_execute


class Command(AuditedCommand):
    help = (
        "Run SERVICE with --payload JSON (its input) and --args. Runs here by "
        "default, exactly as a worker would; --worker sends it to a worker."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("service")
        parser.add_argument("--payload", default="{}", help="the input, a JSON object")
        parser.add_argument(
            "--args", nargs="*", default=[], dest="service_args", metavar="ARG"
        )
        parser.add_argument("--extra", default="", help="raw text (raw_request)")
        parser.add_argument("--worker", action="store_true")
        parser.add_argument("--timeout", type=float, default=3600)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            payload = json.loads(options["payload"])
        except ValueError as exc:
            raise bad_input(f"--payload is not valid JSON: {exc}.") from None
        try:
            run = jobrun_enqueue(
                service=options["service"],
                trigger=JobRun.Trigger.CLI,
                args=options["service_args"],
                input_override=payload,
                by="cli",
                now=timezone.now(),
                extra=options["extra"],
                send=options["worker"],
            )
        except ValidationError as exc:
            raise bad_input(messages(exc)) from None
        if not options["worker"]:
            jobrun_execute(
                run_id=run.pk, worker=f"cli@{socket.gethostname()}", in_process=True
            )
        report(self, wait_for(run, timeout=options["timeout"]))
