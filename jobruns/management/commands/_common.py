"""Helpers shared by the job run commands: exit codes and waiting for a run."""

from __future__ import annotations

import json
import time
from typing import Any

from django.core.management.base import CommandError

from jobruns.models import JobRun

# 0 ok; 1 the run did not succeed; 2 bad input (core.commands.BAD_INPUT).
RUN_FAILED = 1


def wait_for(run: JobRun, *, timeout: float) -> JobRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.is_finished:
            return run
        time.sleep(0.2)
    raise CommandError(
        f"Run #{run.pk} did not finish within {timeout:.0f} s (it is {run.status}).",
        returncode=RUN_FAILED,
    )


def report(command: Any, run: JobRun) -> None:
    """Print the outcome; CommandError(1) unless the run succeeded."""
    if run.output is not None:
        command.stdout.write(json.dumps(run.output, indent=2, sort_keys=True))
    if run.status != JobRun.Status.SUCCEEDED:
        detail = run.error or run.skip_reason or run.status
        raise CommandError(
            f"Run #{run.pk} {run.get_status_display().lower()}: {detail}",
            returncode=RUN_FAILED,
        )
    command.stderr.write(f"Run #{run.pk} succeeded.")
