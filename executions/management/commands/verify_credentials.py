from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import CommandError, CommandParser

from core.audit import AuditedCommand
from executions.management.commands._run import run_and_print
from executions.models import Credential, Execution


class Command(AuditedCommand):
    help = (
        "Verify a stored credential now and print the outcome as JSON. Exit 0 when "
        "verified, 1 when not verified or the check failed, 2 on bad input."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="credential name")

    def handle(self, *args: Any, **options: Any) -> None:
        credential = Credential.objects.filter(name=options["name"]).first()
        if credential is None:
            raise CommandError(
                f"No credential is named {options['name']!r}.", returncode=2
            )
        execution = run_and_print(
            self,
            component=credential.component,
            method=Execution.Method.VERIFY_CREDENTIALS,
            credential=credential.pk,
        )
        # Unlike `execute`, a failed check exits 1: scripts ask "does it work?".
        verified = (execution.result or {}).get("verified") is True
        if execution.status != Execution.Status.SUCCEEDED or not verified:
            sys.exit(1)
