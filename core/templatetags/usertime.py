"""Template filters for showing instants in the viewer's zone (see core.timefmt)."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone

from core.timefmt import format_instant, format_relative

register = template.Library()


@register.filter
def usertime(value: datetime | None) -> str:
    """{{ run.started_at|usertime }} -> '2026-12-01 08:18:51 JST'."""
    return format_instant(value)


@register.filter
def relativetime(value: datetime | None) -> str:
    """{{ schedule.next_run_at|relativetime }} -> 'in 3 min'."""
    return format_relative(value, now=timezone.now())
