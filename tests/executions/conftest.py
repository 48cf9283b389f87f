from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.executions.fakeshop import FakeShop


@pytest.fixture
def shop() -> Iterator[FakeShop]:
    with FakeShop() as running:
        yield running


@pytest.fixture(autouse=True)
def _allow_loopback_shops(settings: Any) -> None:
    # The fake shop listens on 127.0.0.1, which components refuse by default.
    settings.HTTP_REQUEST_ALLOW_PRIVATE = True


@pytest.fixture
def api(client: Any, superuser: Any) -> Any:
    client.force_login(superuser)
    return client
