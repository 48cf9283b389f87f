from __future__ import annotations

from django.db import models


class WorkerHeartbeat(models.Model):
    """The last time each Celery worker consumed a heartbeat task from the broker.

    Written by a task rather than a thread inside the worker, so a fresh row
    proves the whole path (broker -> worker -> database), which is what
    ``/readyz`` wants to know.
    """

    hostname = models.CharField(max_length=255, unique=True)
    seen_at = models.DateTimeField(db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-seen_at"]

    def __str__(self) -> str:
        return self.hostname
