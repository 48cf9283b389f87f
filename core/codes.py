"""Validation codes that mean "the request is fine, the current state is not".

Apps raise ValidationErrors with these codes; the API's error handler answers
them with 409. They live here, below the apps, so the handler needs none of them.
"""

from __future__ import annotations

NAME_TAKEN = "name_taken"  # another schedule has this name
RUN_IN_PROGRESS = "run_in_progress"  # the overlap policy refuses another run now
NOT_RETRYABLE = "not_retryable"  # the run's state does not allow a retry

CONFLICT_CODES = frozenset({NAME_TAKEN, RUN_IN_PROGRESS, NOT_RETRYABLE})
