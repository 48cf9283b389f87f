"""Run the whole scheduler (web, worker, beat) as one supervised command."""

from __future__ import annotations

import errno
import io
import os
import socket
import sys
import time
import urllib.request
from collections.abc import Callable
from typing import IO, Any, cast

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from scheduler_site.supervisor import (
    AlreadyRunning,
    Supervisor,
    run_lock,
    scheduler_children,
)


class Command(BaseCommand):
    help = (
        "Start web (gunicorn), a Celery worker and beat (with the dispatcher) as "
        "children; Ctrl-C, SIGTERM or closing the terminal stops them all. A child "
        "that dies is reported and restarted. --prepare first migrates, creates "
        "the first admin account and loads the demo schedules (what `make run` does)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bind", default="127.0.0.1:8000")
        parser.add_argument("--concurrency", type=int, default=2)
        parser.add_argument(
            "--prepare",
            action="store_true",
            help="migrate, ensure_admin and load_demo before starting",
        )

    def handle(
        self, *args: Any, bind: str, concurrency: int, prepare: bool, **options: Any
    ) -> None:
        # Both checks come first, so a second `make run` says so at once.
        try:
            # The descriptor stays open until we exit; the kernel then drops the lock.
            run_lock(settings.VAR_DIR / "supervise.lock")
        except AlreadyRunning as running:
            raise CommandError(
                f"the scheduler is already running on this data folder (pid "
                f"{running}, {settings.VAR_DIR}); stop it first (Ctrl-C there)"
            ) from None
        _refuse_busy_address(bind)
        notes = self._prepare() if prepare else []
        env = {}
        if "SECURE_COOKIES" not in os.environ:
            # Plain http://127.0.0.1: a Secure session cookie would never come
            # back and nobody could log in. Set SECURE_COOKIES=true behind TLS.
            env["SECURE_COOKIES"] = "false"
        children = scheduler_children(bind=bind, concurrency=concurrency)
        # The raw stream: children's lines arrive whole and need no styling.
        out = cast(IO[str], self.stdout._out)
        supervisor = Supervisor(
            children,
            out=out,
            env=env,
            ready_probe=_ready_probe(bind),
            ready_lines=[
                f"The scheduler is up: http://{bind}/admin/ (Ctrl-C stops it)",
                *notes,
            ],
        )
        sys.exit(supervisor.run())

    def _prepare(self) -> list[str]:
        """Migrate and load the demo quietly; the admin account lines, to say last."""
        self.stdout.write("Preparing the database (migrate, admin account, demo)...")
        quiet = io.StringIO()
        call_command("migrate", interactive=False, stdout=quiet)
        call_command("load_demo", stdout=quiet)
        admin = io.StringIO()
        call_command("ensure_admin", stdout=admin)
        return admin.getvalue().strip().splitlines()


def _refuse_busy_address(bind: str) -> None:
    host, _, port = bind.rpartition(":")
    family = socket.AF_INET6 if host.startswith("[") else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As gunicorn binds: a port in TIME_WAIT is free, one with a listener not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), int(port)))
        except OSError as error:
            reason = (
                "is in use by another program"
                if error.errno == errno.EADDRINUSE
                else f"cannot be used ({error.strerror})"
            )
            raise CommandError(
                f"{bind} {reason}; stop it or choose another port "
                "(make run PORT=8001, or supervise --bind 127.0.0.1:8001)"
            ) from None


def _ready_probe(bind: str, *, patience: float = 30.0) -> Callable[[], bool]:
    """Ready when /readyz says so (web, worker and beat have printed their
    banners by then), or when the web answers and the patience ran out."""
    since = time.monotonic()

    def probe() -> bool:
        if _answers(f"http://{bind}/readyz"):
            return True
        return time.monotonic() - since > patience and _answers(
            f"http://{bind}/healthz"
        )

    return probe


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=0.3) as response:  # noqa: S310
            return bool(response.status == 200)
    except OSError:  # refused, timed out, or an HTTP error such as 503
        return False
