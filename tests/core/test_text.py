from __future__ import annotations

import pytest

from core.text import nul_problem


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain", None),
        ({"a": ["ok", {"b": "x\x00y"}]}, "input.a[1].b contains a NUL character"),
        ({"k\x00": 1}, "a key in input contains a NUL character"),
        (["\x00"], "input[0] contains a NUL character"),
        (42, None),
    ],
)
def test_nul_characters_are_found_wherever_they_hide(
    value: object, expected: str | None
) -> None:
    problem = nul_problem(value, "input")
    if expected is None:
        assert problem is None
    else:
        assert problem is not None
        assert problem.startswith(expected)
