"""Shared data for schedule tests (importable; fixtures live in conftest.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

# A Saturday morning before Berlin's 2025 spring-forward night (30 March).
NOW = datetime(2025, 3, 29, 9, 0, tzinfo=UTC)
KNOWN_TARGETS = frozenset({"reports.nightly", "demo.echo"})


def definition(**overrides: Any) -> dict[str, Any]:
    """A valid daily cron definition, changed by `overrides`."""
    data: dict[str, Any] = {
        "name": "nightly-report",
        "kind": "cron",
        "cron_expression": "30 2 * * *",
        "time_zone": "Europe/Berlin",
        "target": "reports.nightly",
    }
    data.update(overrides)
    return data
