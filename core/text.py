"""Text that PostgreSQL cannot store.

PostgreSQL refuses the NUL character (U+0000) in text columns and inside
``jsonb`` strings, with a database error that would surface as a 500. Inputs
are checked here first, so the caller gets a field error instead.
"""

from __future__ import annotations

from typing import Any

NUL = "\x00"


def nul_problem(value: Any, where: str) -> str | None:
    """A sentence naming where a NUL character hides in ``value``, or None."""
    if isinstance(value, str):
        return f"{where} contains a NUL character (\\u0000)" if NUL in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            problem = nul_problem(str(key), f"a key in {where}") or nul_problem(
                item, f"{where}.{key}"
            )
            if problem:
                return problem
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            problem = nul_problem(item, f"{where}[{index}]")
            if problem:
                return problem
    return None
