"""Fixtures for schedule tests: a pinned clock, known targets and a factory."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from schedules.models import Schedule
from schedules.services import schedule_create
from tests.schedules.factories import KNOWN_TARGETS, NOW, definition


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture(autouse=True)
def known_targets(monkeypatch: pytest.MonkeyPatch) -> frozenset[str]:
    """The jobruns registry is another team's; these tests pin its answer."""
    monkeypatch.setattr(
        "schedules.validation.service_exists", lambda name: name in KNOWN_TARGETS
    )
    return KNOWN_TARGETS


@pytest.fixture
def make_schedule(now: datetime) -> Callable[..., Schedule]:
    def make(*, by: Any = None, at: datetime | None = None, **fields: Any) -> Schedule:
        return schedule_create(data=definition(**fields), by=by, now=at or now)

    return make
