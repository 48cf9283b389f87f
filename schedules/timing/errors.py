"""The one error type the timing package raises for bad user input."""

from __future__ import annotations


class TimingError(ValueError):
    """A user-supplied schedule value is wrong; `field` says which, `message` why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
