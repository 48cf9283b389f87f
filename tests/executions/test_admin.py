"""Admin: credentials with a Verify button, secrets never on a page."""

from __future__ import annotations

from typing import Any

import pytest

from executions.models import Credential, Execution
from executions.services import credential_create
from tests.executions.fakeshop import KEY, SECRET, FakeShop

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(client: Any, superuser: Any) -> Any:
    client.force_login(superuser)
    return client


def test_adding_a_credential_in_the_admin_stores_it_encrypted(
    admin_client_: Any, shop: FakeShop
) -> None:
    answer = admin_client_.post(
        "/admin/executions/credential/add/?component=woocommerce",
        {
            "name": "myshop",
            "component": "woocommerce",
            "field_url": shop.url,
            "field_consumer_key": KEY,
            "field_consumer_secret": SECRET,
            "field_auth_method": "basic",
        },
    )
    assert answer.status_code == 302, answer.content.decode()[-2000:]
    credential = Credential.objects.get(name="myshop")
    assert SECRET not in credential.fields_encrypted
    assert credential.fields()["consumer_secret"] == SECRET


def test_the_change_page_masks_secrets_and_offers_verify(
    admin_client_: Any, shop: FakeShop
) -> None:
    credential = credential_create(name="s", component="woocommerce", fields=shop.cfg())
    page = admin_client_.get(f"/admin/executions/credential/{credential.pk}/change/")
    assert page.status_code == 200
    body = page.content.decode()
    assert SECRET not in body
    assert KEY not in body
    assert "••••••" in body
    assert f"/admin/executions/credential/{credential.pk}/verify/" in body


def test_saving_without_retyping_secrets_keeps_them(
    admin_client_: Any, shop: FakeShop
) -> None:
    credential = credential_create(name="s", component="woocommerce", fields=shop.cfg())
    answer = admin_client_.post(
        f"/admin/executions/credential/{credential.pk}/change/",
        {
            "name": "renamed",
            "field_url": shop.url,
            "field_consumer_key": "",
            "field_consumer_secret": "",
            "field_auth_method": "query",
        },
    )
    assert answer.status_code == 302
    credential.refresh_from_db()
    assert credential.name == "renamed"
    assert credential.fields()["consumer_secret"] == SECRET
    assert credential.fields()["auth_method"] == "query"


def test_verify_button_starts_an_execution_and_shows_a_polling_page(
    admin_client_: Any, shop: FakeShop
) -> None:
    credential = credential_create(name="s", component="woocommerce", fields=shop.cfg())
    answer = admin_client_.post(f"/admin/executions/credential/{credential.pk}/verify/")
    execution = Execution.objects.get(credential=credential)
    assert execution.requested_via == "admin"
    assert answer["Location"].endswith(f"/verify/{execution.pk}/")
    page = admin_client_.get(answer["Location"])
    assert page.status_code == 200
    assert "executions/poll.js" in page.content.decode()
    assert f"/api/v1/executions/{execution.pk}/poll/" in page.content.decode()


def test_executions_list_and_detail_pages_render(
    admin_client_: Any, shop: FakeShop
) -> None:
    credential = credential_create(name="s", component="woocommerce", fields=shop.cfg())
    admin_client_.post(f"/admin/executions/credential/{credential.pk}/verify/")
    execution = Execution.objects.get()
    assert admin_client_.get("/admin/executions/execution/").status_code == 200
    detail = admin_client_.get(f"/admin/executions/execution/{execution.pk}/change/")
    assert detail.status_code == 200
