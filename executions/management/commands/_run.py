"""Shared by the CLI commands: run one execution in this process, print it."""

from __future__ import annotations

import json
import socket
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from executions.models import Execution
from executions.services import execution_create, execution_run


def run_and_print(command: BaseCommand, **create: Any) -> Execution:
    """Same service as the API (execution_create), run here instead of a worker."""
    try:
        execution = execution_create(
            **create, via=Execution.Via.CLI, now=timezone.now(), dispatch=False
        )
    except ValidationError as exc:
        sentences = [f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()]
        raise CommandError("; ".join(sentences), returncode=2) from None
    execution_run(
        execution_id=execution.pk,
        worker=f"cli@{socket.gethostname()}#0",
        in_process=True,
    )
    execution.refresh_from_db()
    payload: dict[str, Any] = {"id": str(execution.pk), "status": execution.status}
    if execution.status == Execution.Status.SUCCEEDED:
        payload["result"] = execution.result
    else:
        payload["error"] = execution.error
    command.stdout.write(json.dumps(payload, indent=2, sort_keys=True))
    return execution
