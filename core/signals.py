"""Worker start-up: record a heartbeat at once so /readyz need not wait for beat."""

from __future__ import annotations

import logging
from typing import Any

from celery.signals import worker_ready
from django.db import close_old_connections
from django.utils import timezone

logger = logging.getLogger(__name__)


@worker_ready.connect
def _record_worker_start(sender: Any = None, **_: Any) -> None:
    from core.services import worker_heartbeat_record

    close_old_connections()
    worker_heartbeat_record(hostname=sender.hostname, now=timezone.now(), started=True)
    logger.info("worker %s ready", sender.hostname)
