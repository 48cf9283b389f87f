"""A soft time limit for work done in this process (management commands).

In a worker Celery raises SoftTimeLimitExceeded itself; a command that runs a
service or a component method in-process gets the same exception from
SIGALRM, so one code path handles both. SIGALRM only works in the main thread,
so elsewhere the block simply runs without a limit.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded


@contextlib.contextmanager
def soft_time_limit(seconds: int | None) -> Iterator[None]:
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise SoftTimeLimitExceeded()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
