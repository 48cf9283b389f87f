"""Pieces every admin page shows alike: status badges and outcome strips."""

from __future__ import annotations

from collections.abc import Iterable

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

register = template.Library()


def _label(status: str) -> str:
    return status.replace("_", " ")


@register.filter
def status_badge(status: str | None) -> SafeString:
    """A coloured pill with the status in words (colour is never the only signal)."""
    if not status:
        return format_html("")
    return format_html(
        '<span class="status-badge status-{}">{}</span>', status, _label(status)
    )


@register.filter
def outcome_strip(statuses: Iterable[str]) -> SafeString:
    """Oldest to newest, one small block per run, each with its status as a title."""
    cells = format_html_join(
        "",
        '<span class="outcome status-{}" title="{}"></span>',
        ((status, _label(status)) for status in statuses),
    )
    return format_html(
        '<span class="outcome-strip" aria-label="recent outcomes">{}</span>', cells
    )
