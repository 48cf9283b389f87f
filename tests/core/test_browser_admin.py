from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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


@pytest.mark.requires_browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("docs", ["/api/docs/", "/api/redoc/"])
def test_the_api_docs_render_from_this_server_alone(
    page: Any, superuser: Any, screenshot_dir: Path, docs: str
) -> None:
    """Swagger UI and ReDoc come from the sidecar's static files: a browser
    behind a firewall sees them whole, and no request leaves for a CDN or
    Swagger's online validator."""
    hosts: set[str] = set()
    # data: and blob: URLs (ReDoc's worker) stay in the page; count the rest.
    page.on(
        "request",
        lambda request: (
            hosts.add(urlsplit(request.url).netloc)
            if urlsplit(request.url).scheme not in ("data", "blob")
            else None
        ),
    )
    page.goto("/admin/login/")
    page.fill("#id_username", superuser.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    page.goto(docs)
    # An operation of ours, rendered from the schema this server served.
    page.get_by_text("/api/v1/schedules/", exact=False).first.wait_for()
    page.wait_for_load_state("networkidle")
    assert hosts == {urlsplit(page.url).netloc}, f"requests went to {sorted(hosts)}"
    name = docs.strip("/").replace("/", "-")
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(screenshot_dir / f"{name}-{width}.png"))
