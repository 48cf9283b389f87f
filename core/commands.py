"""What every management command shares: the exit code and wording of bad input."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

# Django's own usage errors exit 1, which our run commands use for "the run did
# not succeed"; bad input is 2, explicitly.
BAD_INPUT = 2


def bad_input(message: str) -> CommandError:
    return CommandError(message, returncode=BAD_INPUT)


def messages(error: ValidationError) -> str:
    if hasattr(error, "message_dict"):
        return "; ".join(
            f"{field}: {' '.join(texts)}" for field, texts in error.message_dict.items()
        )
    return " ".join(error.messages)
