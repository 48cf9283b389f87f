"""The Celery app shared by the worker, beat and the web process (which only sends)."""

from __future__ import annotations

import os

from celery import Celery
from kombu.transport import TRANSPORT_ALIASES

# The laptop broker: kombu's filesystem transport, writing each message
# atomically (scheduler_site/broker.py says why). kombu resolves URL schemes
# through this table; every filesystem:// URL gets the safe writer.
TRANSPORT_ALIASES["filesystem"] = "scheduler_site.broker:Transport"

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scheduler_site.settings")

app = Celery("scheduler_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
