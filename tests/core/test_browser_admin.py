from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PASSWORD


@pytest.mark.requires_browser
@pytest.mark.django_db(transaction=True)
def test_an_admin_logs_in_with_a_real_browser(
    page: Any, superuser: Any, screenshot_dir: Path
) -> None:
    page.goto("/admin/")
    page.fill("#id_username", superuser.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    assert "Dashboard" in page.title()
    shot = screenshot_dir / "admin-after-login.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
