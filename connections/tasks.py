"""Celery tasks: thin doors into `connections.services`."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from connections.services import sent_email_prune


@shared_task(name="connections.prune_sent_emails", ignore_result=True)
def prune_sent_emails() -> int:
    """Sent by beat nightly: forget sent e-mails past their keeping time."""
    return sent_email_prune(now=timezone.now())
