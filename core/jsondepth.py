"""A ceiling on how deeply a JSON document may nest.

Python's json module (and everything that walks the result afterwards:
serializers, validators, json.dumps to the database) recurses once per level, so
a small body nested a thousand deep raises RecursionError, a 500. No document
this product takes needs more than a few levels; refusing beyond MAX_DEPTH is a
clear 400 and keeps every later walk well inside the recursion limit.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64


class TooDeep(ValueError):
    pass


def too_deep_message(limit: int = MAX_DEPTH) -> str:
    return f"JSON nested more than {limit} levels deep is not accepted."


def check_depth(value: Any, limit: int = MAX_DEPTH) -> None:
    """Raise TooDeep when `value` has containers nested more than `limit` deep."""
    # Iterative on purpose: a recursive walk would fail on the input it judges.
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, dict | list):
            continue
        if depth > limit:
            raise TooDeep(too_deep_message(limit))
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children)


def loads(text: str | bytes, limit: int = MAX_DEPTH) -> Any:
    """json.loads that raises TooDeep (a ValueError) instead of RecursionError."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise TooDeep(too_deep_message(limit)) from None
    check_depth(value, limit)
    return value
