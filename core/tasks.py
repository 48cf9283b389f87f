from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from core.services import worker_heartbeat_record


@shared_task(name="system.worker_heartbeat", bind=True, ignore_result=True)
def worker_heartbeat(self) -> None:  # type: ignore[no-untyped-def]
    """Sent by beat every few seconds; whichever worker consumes it records itself."""
    worker_heartbeat_record(hostname=self.request.hostname, now=timezone.now())
