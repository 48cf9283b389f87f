from __future__ import annotations

import logging

import pytest

from core.logging import log_context, redact


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("login password=hunter2 ok", "login password=[redacted] ok"),
        ('{"api_key": "abc123", "x": 1}', '{"api_key": [redacted], "x": 1}'),
        ("Authorization: Bearer abc.def", "Authorization: [redacted]"),
        ("nothing secret here", "nothing secret here"),
    ],
)
def test_secret_looking_values_are_redacted(line: str, expected: str) -> None:
    assert redact(line) == expected


def test_every_line_in_a_run_context_carries_the_run_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from core.logging import ContextFilter

    logger = logging.getLogger("tests.context")
    handler_filter = ContextFilter()
    with log_context(run=42), caplog.at_level(logging.INFO):
        logger.info("started %s", "x")
    record = caplog.records[-1]
    handler_filter.filter(record)
    assert record.context == ""  # type: ignore[attr-defined]  # set by the filter
    with log_context(run=42, execution="e-1"):
        handler_filter.filter(record)
    assert record.context == "run=42 execution=e-1 "  # type: ignore[attr-defined]
