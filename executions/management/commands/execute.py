from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import CommandError, CommandParser

from core.audit import AuditedCommand
from executions.management.commands._run import run_and_print
from executions.models import Execution


class Command(AuditedCommand):
    help = (
        "Run a component method (verify_credentials, get_meta_model, select_model) "
        "here and print the result as JSON. Exit 0 when it succeeded, 1 when the "
        "execution failed or timed out, 2 on bad input."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("component")
        parser.add_argument("method", choices=Execution.Method.values)
        parser.add_argument("--cfg", default="{}", help="configuration, a JSON object")
        parser.add_argument("--credential", help="name of a stored credential")
        parser.add_argument("--model-method", default="", help="select-model method")
        parser.add_argument("--module", default="", help="action or trigger key")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            cfg = json.loads(options["cfg"])
        except ValueError as exc:
            raise CommandError(f"--cfg is not JSON: {exc}.", returncode=2) from None
        if not isinstance(cfg, dict):
            raise CommandError("--cfg must be a JSON object.", returncode=2)
        execution = run_and_print(
            self,
            component=options["component"],
            method=options["method"],
            cfg=cfg,
            credential=options["credential"],
            module=options["module"],
            model_method=options["model_method"],
        )
        if execution.status != Execution.Status.SUCCEEDED:
            sys.exit(1)
