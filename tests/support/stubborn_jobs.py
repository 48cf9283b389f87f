"""A service that ignores the soft time limit, for the hard-limit test.

Loaded by a test worker through SCHEDULER_SERVICE_MODULES; the test process
imports it too, so the run request validates.
"""

from __future__ import annotations

import time

from celery.exceptions import SoftTimeLimitExceeded

from jobruns.jobs.base import Service
from jobruns.registry import register


@register
class IgnoresSoftLimit(Service):
    name = "tests.ignores_soft_limit"
    description = "Logs, then keeps working through SoftTimeLimitExceeded."

    def handle(self) -> None:
        self.logger.info("started the long part")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                time.sleep(0.1)
            except SoftTimeLimitExceeded:
                self.logger.warning("soft time limit reached; carrying on anyway")
