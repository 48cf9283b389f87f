"""The peers' no-op task: records when it started and ended, nothing else.

Loaded into the benchmark's worker with `-I bench.noop_task`. The times go to
a Redis list on the broker's server (one RPUSH), so reading them back does not
touch the database the peers do not use.
"""

from __future__ import annotations

import time
from typing import Any

from celery import shared_task

STARTED = "bench:noop:started"
_client: Any = None


def _redis() -> Any:
    global _client
    if _client is None:
        import redis
        from django.conf import settings

        _client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    return _client


@shared_task(name="bench.noop", ignore_result=True)
def noop(tag: str) -> None:
    _redis().rpush(STARTED, f"{tag} {time.time()}")
