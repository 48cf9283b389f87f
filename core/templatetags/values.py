"""Stored values shown to people as JSON, never as Python reprs."""

from __future__ import annotations

import json
from typing import Any

from django import template

register = template.Library()


@register.filter
def shown_value(value: Any) -> str:
    """{{ old|shown_value }}: '—' for none, text as is, the rest as compact JSON."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
