"""Helpers shared by the schedule commands."""

from __future__ import annotations

from core.commands import bad_input
from schedules.models import Schedule


def get_schedule(name: str) -> Schedule:
    try:
        return Schedule.objects.get(name=name)
    except Schedule.DoesNotExist:
        raise bad_input(f"There is no schedule named {name!r}.") from None
