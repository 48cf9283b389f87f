"""Publishing Celery messages after commit, without letting a broker fault escape.

The database is the source of truth: a row that waits for a message (a queued
run, a pending execution) is found again and re-sent by the reaper when its
message never reached the broker. So a broker that is down when a request
commits must not turn into an error answer for a row that exists: a client
that retries on 500 would create a second one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction
from kombu.exceptions import KombuError

logger = logging.getLogger(__name__)

# What a publish to an unreachable broker raises: kombu's OperationalError
# (a KombuError) when Celery's retries give up, or the socket error itself
# from transports that do not wrap it.
BROKER_ERRORS: tuple[type[BaseException], ...] = (KombuError, OSError)


def publish_on_commit(publish: Callable[[], object], *, what: str) -> None:
    """Call `publish` after commit; a broker fault is logged, not raised.

    `what` names the row in the log ("run 42"), so an operator can follow it to
    the reaper's re-send.
    """

    def send() -> None:
        try:
            publish()
        except BROKER_ERRORS as exc:
            logger.warning(
                "%s saved but its message was not sent (broker: %s: %s); "
                "the reaper will send it",
                what,
                type(exc).__name__,
                exc,
            )

    transaction.on_commit(send)
