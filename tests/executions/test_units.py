"""Encryption, masking, registry, the WooCommerce component against a fake shop,
and the request validation and error shapes of every adapter."""

from __future__ import annotations

import base64
import json
import logging
import socket
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.utils import timezone

from core import crypto
from executions.components import all_components, get_component
from executions.components.base import Component, ComponentError
from executions.components.woocommerce import WooCommerceClient
from executions.models import Credential, Execution
from executions.services import (
    credential_create,
    credential_rotate_keys,
    execution_create,
    execution_run,
)
from jobruns.jobs.base import Request, RunInfo
from jobruns.registry import get_service
from tests.executions.fakeshop import KEY, SECRET, FakeShop


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- Encryption and masking
def test_fields_round_trip_through_encryption_and_are_not_stored_in_clear(
    settings: Any,
) -> None:
    token = crypto.encrypt_fields({"consumer_secret": SECRET})
    assert SECRET not in token
    assert crypto.decrypt_fields(token) == {"consumer_secret": SECRET}


def test_a_new_first_key_still_opens_old_values_and_rotation_moves_them(
    settings: Any, db: None
) -> None:
    old = Fernet.generate_key().decode()
    settings.CREDENTIALS_ENCRYPTION_KEYS = [old]
    credential = credential_create(
        name="shop",
        component="woocommerce",
        fields={
            "url": "https://shop.example",
            "consumer_key": KEY,
            "consumer_secret": SECRET,
        },
    )
    new = Fernet.generate_key().decode()
    settings.CREDENTIALS_ENCRYPTION_KEYS = [new, old]
    assert (
        Credential.objects.get(pk=credential.pk).fields()["consumer_secret"] == SECRET
    )

    assert credential_rotate_keys() == 1

    settings.CREDENTIALS_ENCRYPTION_KEYS = [new]
    assert Credential.objects.get(pk=credential.pk).fields()["consumer_key"] == KEY


def test_without_configured_keys_a_key_is_derived_from_the_secret_key(
    settings: Any,
) -> None:
    settings.CREDENTIALS_ENCRYPTION_KEYS = []
    token = crypto.encrypt_fields({"a": "b"})
    assert Fernet(crypto.derived_key(settings.SECRET_KEY)).decrypt(token.encode())


def test_masks_show_four_characters_of_long_values_and_only_set_for_short_ones() -> (
    None
):
    assert crypto.mask("cs_abcdefgh1234") == "••••••1234"
    assert crypto.mask("short") == "set"
    assert crypto.mask("") == ""


# --- Registry
def test_the_woocommerce_component_is_registered_with_its_schema() -> None:
    component = get_component("woocommerce")
    assert component in all_components()
    assert component.secret_credential_fields() == {"consumer_key", "consumer_secret"}
    assert component.select_model_names() == ["categories"]
    action = component.actions["list_products"]
    assert action.dynamic_metadata
    assert action.fields["category"].model == "categories"
    assert get_service(action.service).name == "woocommerce.list_products"


def test_a_component_without_a_verifier_accepts_like_sailors_stub() -> None:
    assert Component().verify_credentials({}) == {"verified": True}


# --- The WooCommerce component against the fake shop
def test_verify_credentials_accepts_the_right_key_and_secret(shop: FakeShop) -> None:
    assert get_component("woocommerce").verify_credentials(shop.cfg()) == {
        "verified": True
    }


def test_verify_credentials_also_works_with_query_parameter_auth(
    shop: FakeShop,
) -> None:
    cfg = shop.cfg(auth_method="query")
    assert get_component("woocommerce").verify_credentials(cfg)["verified"] is True


def test_verify_credentials_reports_a_401_as_a_clear_reason(shop: FakeShop) -> None:
    answer = get_component("woocommerce").verify_credentials(
        shop.cfg(consumer_secret="cs_wrong_value_0000")
    )
    assert answer["verified"] is False
    assert "refused the consumer key and secret (HTTP 401" in answer["reason"]


def test_verify_credentials_reports_an_unreachable_host() -> None:
    cfg = {
        "url": f"http://127.0.0.1:{_closed_port()}",
        "consumer_key": KEY,
        "consumer_secret": SECRET,
    }
    answer = get_component("woocommerce").verify_credentials(cfg)
    assert answer["verified"] is False
    assert answer["reason"].startswith(
        "the shop is unreachable: cannot reach 127.0.0.1"
    )


def test_plain_http_is_refused_for_a_shop_that_is_not_on_this_machine() -> None:
    answer = get_component("woocommerce").verify_credentials(
        {
            "url": "http://shop.example.com",
            "consumer_key": KEY,
            "consumer_secret": SECRET,
        }
    )
    assert answer == {
        "verified": False,
        "reason": "the shop URL must use https://: WooCommerce accepts a consumer "
        "key and secret only over HTTPS",
    }


def test_private_addresses_are_refused_unless_allowed(settings: Any) -> None:
    settings.HTTP_REQUEST_ALLOW_PRIVATE = False
    settings.DEMO_SHOP_ENABLED = False
    with pytest.raises(ComponentError, match="loopback, private or link-local"):
        WooCommerceClient(
            {"url": "http://127.0.0.1:9", "consumer_key": "k", "consumer_secret": "s"}
        ).get("/products")


def test_select_model_lists_the_shops_categories(shop: FakeShop) -> None:
    component: Any = get_component("woocommerce")  # its own select-model methods
    assert component.categories(shop.cfg()) == {
        "15": "Uncategorized",
        "21": "T-shirts",
        "22": "Mugs",
    }


def test_dynamic_metadata_derives_the_product_schema_of_a_category(
    shop: FakeShop,
) -> None:
    meta = get_component("woocommerce").get_meta_model(
        shop.cfg(category="21"), module="list_products"
    )
    out = meta["out"]["properties"]
    assert out["price"] == {"type": "string"}
    assert out["stock_quantity"] == {"type": ["integer", "null"]}
    assert out["weight"] == {"type": "string"}  # only the V-Neck has it
    assert out["attributes"]["properties"] == {
        "Color": {"type": "string", "enum": ["Blue", "Red", "White"]},
        "Size": {"type": "string", "enum": ["L", "M", "S", "XL"]},
    }
    assert meta["in"]["required"] == ["category"]


def test_dynamic_metadata_needs_a_category(shop: FakeShop) -> None:
    with pytest.raises(ComponentError, match="choose a category"):
        get_component("woocommerce").get_meta_model(shop.cfg(), module="list_products")


@pytest.mark.django_db
def test_list_products_service_writes_a_csv_of_the_category(shop: FakeShop) -> None:
    credential_create(name="myshop", component="woocommerce", fields=shop.cfg())
    cls = get_service("woocommerce.list_products")
    service = cls(
        request=Request(payload={"credential": "myshop", "category": 22}),
        run=RunInfo(id=None, scheduled_for=None, trigger="test"),
        logger=logging.getLogger("test"),
    )
    service.handle()
    assert service.response.payload == {"category": "22", "count": 2}
    assert service.result is not None
    lines = service.result.getvalue().splitlines()
    assert lines[0].endswith("stock_status,stock_quantity,Material")
    assert lines[1].startswith("201,Coffee Mug,SKU-201,simple,publish,9.00")


# --- Executions run in-process (the worker path is in test_worker_flows.py)
@pytest.mark.django_db
def test_a_failed_check_is_a_successful_execution_and_inline_secrets_are_wiped(
    shop: FakeShop,
) -> None:
    execution = execution_create(
        component="woocommerce",
        method="verify_credentials",
        cfg=shop.cfg(consumer_secret="cs_wrong_but_long_1234"),
        via="api",
        now=timezone.now(),
        dispatch=False,
    )
    assert execution.secret_fields_encrypted
    assert "consumer_secret" not in execution.config
    assert execution.config["url"] == shop.url

    assert execution_run(execution_id=execution.pk, worker="t#1") == "succeeded"

    execution.refresh_from_db()
    assert execution.result["verified"] is False
    assert execution.secret_fields_encrypted == ""


@pytest.mark.django_db
def test_verifying_a_stored_credential_records_the_outcome_on_it(
    shop: FakeShop,
) -> None:
    credential = credential_create(name="s", component="woocommerce", fields=shop.cfg())
    execution = execution_create(
        component="woocommerce",
        method="verify_credentials",
        credential="s",
        via="cli",
        now=timezone.now(),
        dispatch=False,
    )
    execution_run(execution_id=execution.pk, worker="t#1")
    credential.refresh_from_db()
    assert credential.last_verification == {"verified": True}
    assert credential.last_verified_at is not None


# --- Native API validation and masking
@pytest.mark.django_db
def test_native_create_answers_400_with_field_errors(api: Any) -> None:
    answer = api.post(
        "/api/v1/executions/",
        {"component": "woocommerce", "method": "select_model", "module": "x"},
        content_type="application/json",
    )
    assert answer.status_code == 400
    assert answer.json()["errors"] == {"model_method": ["Required for select_model."]}


@pytest.mark.django_db
def test_native_create_rejects_an_unknown_select_method_by_name(api: Any) -> None:
    answer = api.post(
        "/api/v1/executions/",
        {
            "component": "woocommerce",
            "method": "select_model",
            "module": "list_products",
            "model_method": "nope",
        },
        content_type="application/json",
    )
    assert answer.status_code == 400
    assert answer.json()["errors"]["model_method"] == [
        'Method "nope" is not found in "list_products" action or trigger.'
    ]


@pytest.mark.django_db
def test_credentials_api_never_returns_secret_values(api: Any, shop: FakeShop) -> None:
    created = api.post(
        "/api/v1/credentials/",
        {"name": "myshop", "component": "woocommerce", "fields": shop.cfg()},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    listed = api.get("/api/v1/credentials/")
    for body in (created.content, listed.content):
        assert SECRET.encode() not in body
        assert KEY.encode() not in body
    assert created.json()["fields"]["consumer_secret"] == "••••••5b4a"
    assert created.json()["fields"]["url"] == shop.url


@pytest.mark.django_db
def test_credentials_api_checks_fields_against_the_component_schema(api: Any) -> None:
    answer = api.post(
        "/api/v1/credentials/",
        {"name": "x", "component": "woocommerce", "fields": {"bogus": 1}},
        content_type="application/json",
    )
    assert answer.status_code == 400
    assert answer.json()["errors"]["fields"] == [
        "Unknown field(s) for woocommerce: bogus.",
        "url is required.",
        "consumer_key is required.",
        "consumer_secret is required.",
    ]


@pytest.mark.django_db
def test_unknown_and_malformed_execution_ids_are_404(api: Any) -> None:
    assert (
        api.get(
            "/api/v1/executions/0b5e2f0a-0000-4000-8000-000000000000/poll/"
        ).status_code
        == 404
    )
    assert api.get("/v2/exec/poll/5aaf90a2d0516d00077556cf").status_code == 401


# --- elastic.io v1 / v2 validation and error shapes
def _basic(
    user: str = "alice-admin", password: str = "correct horse battery staple"
) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {token}"}


@pytest.mark.django_db
def test_v2_without_auth_answers_401_in_jsonapi_form(client: Any) -> None:
    answer = client.post(
        "/v2/components/woocommerce/versions/latest/verify-credential",
        {},
        content_type="application/json",
    )
    assert answer.status_code == 401
    assert answer.json() == {
        "errors": [
            {
                "status": 401,
                "code": 401,
                "title": "Error",
                "detail": "No authorization header was provided.",
                "meta": {},
            }
        ]
    }
    assert answer["WWW-Authenticate"].startswith("Basic")


@pytest.mark.django_db
def test_v2_bad_bodies_answer_400_with_pointers(client: Any, superuser: Any) -> None:
    answer = client.post(
        "/v2/components/woocommerce/versions/latest/select-model",
        json.dumps(
            {
                "data": {
                    "type": "select-model",  # another type is a 409: see compat tests
                    "attributes": {"fields": {}},
                    "relationships": {
                        "workspace": {"data": {"id": "w", "type": "space"}}
                    },
                }
            }
        ),
        content_type="application/vnd.api+json",
        **_basic(),
    )
    assert answer.status_code == 400
    errors = answer.json()["errors"]
    assert {e["title"] for e in errors} == {"Bad argument error"}
    assert {e["source"]["pointer"] for e in errors} == {
        "/data/attributes/module",
        "/data/attributes/method",
        "/data/relationships/workspace/data/type",
    }


@pytest.mark.django_db
def test_v2_unknown_component_or_revision_is_404(client: Any, superuser: Any) -> None:
    body = {
        "data": {
            "type": "verify-credential",
            "attributes": {"fields": {}},
            "relationships": {"workspace": {"data": {"id": "w", "type": "workspace"}}},
        }
    }
    for path in (
        "/v2/components/nope/versions/latest/verify-credential",
        "/v2/components/woocommerce/versions/deadbeef/verify-credential",
    ):
        answer = client.post(path, body, content_type="application/json", **_basic())
        assert answer.status_code == 404
        assert answer.json()["errors"][0]["title"] == "Resource not found"


@pytest.mark.django_db
def test_v1_schedule_names_the_fields_its_execution_type_needs(
    client: Any, superuser: Any
) -> None:
    answer = client.post(
        "/v1/exec/schedule",
        {"execution_type": "select_model", "component": "woocommerce"},
        content_type="application/json",
        **_basic(),
    )
    assert answer.status_code == 400
    assert answer.json() == {
        "message": "Invalid request.",
        "errors": {
            "action_or_trigger": "Required when execution_type is select_model.",
            "account_id": "Required when execution_type is select_model.",
            "model_method": "Required when execution_type is select_model.",
        },
    }


@pytest.mark.django_db
def test_v1_unknown_and_expired_ids_answer_404_with_their_messages(
    client: Any, superuser: Any, shop: FakeShop
) -> None:
    unknown = client.get("/v1/exec/poll/5aaf90a2d0516d00077556cf", **_basic())
    assert (unknown.status_code, unknown.json()) == (
        404,
        {"message": "Result does not exist."},
    )
    execution = execution_create(
        component="woocommerce",
        method="verify_credentials",
        cfg=shop.cfg(),
        via="v1",
        now=timezone.now(),
        dispatch=False,
        requested_by=superuser,
    )
    Execution.objects.filter(pk=execution.pk).update(expires_at=timezone.now())
    expired = client.get(f"/v1/exec/result/{execution.pk}", **_basic())
    assert (expired.status_code, expired.json()) == (404, {"message": "Expired."})
    assert client.get(f"/v2/exec/result/{execution.pk}", **_basic()).status_code == 404


@pytest.mark.django_db
def test_another_users_execution_is_not_found(
    client: Any, superuser: Any, django_user_model: Any, shop: FakeShop
) -> None:
    execution = execution_create(
        component="woocommerce",
        method="verify_credentials",
        cfg=shop.cfg(),
        via="v1",
        now=timezone.now(),
        dispatch=False,
        requested_by=superuser,
    )
    from django.contrib.auth.models import Permission

    bob = django_user_model.objects.create_user(username="bob", password="pw-bob-12345")
    bob.user_permissions.add(Permission.objects.get(codename="view_execution"))
    answer = client.get(
        f"/v1/exec/poll/{execution.pk}", **_basic("bob", "pw-bob-12345")
    )
    assert answer.status_code == 404


def test_the_demo_shop_is_off_unless_enabled(client: Any, settings: Any) -> None:
    settings.DEMO_SHOP_ENABLED = False
    assert client.get("/demo/shop/wp-json/wc/v3/products").status_code == 404
    settings.DEMO_SHOP_ENABLED = True
    assert client.get("/demo/shop/wp-json/wc/v3/products").status_code == 401
    answer = client.get(
        "/demo/shop/wp-json/wc/v3/products/categories?consumer_key=ck_demo"
        "&consumer_secret=cs_demo"
    )
    assert answer.status_code == 200
    assert answer["X-WP-TotalPages"] == "1"


@pytest.mark.django_db
def test_a_nul_character_in_the_config_is_a_field_error_not_a_500(
    client: Any, superuser: Any
) -> None:
    """PostgreSQL refuses U+0000 in jsonb (schemathesis, on /v1/exec/schedule)."""
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        execution_create(
            component="woocommerce", method="verify_credentials",
            cfg={"url": "https://shop.example\x00.com"}, via="api",
            now=timezone.now(), dispatch=False,
        )  # fmt: skip
    assert caught.value.message_dict == {
        "cfg": ["cfg.url contains a NUL character (\\u0000)"]
    }
    from tests.conftest import PASSWORD

    basic = base64.b64encode(f"{superuser.username}:{PASSWORD}".encode()).decode()
    answer = client.post(
        "/v1/exec/schedule",
        {"execution_type": "verify_credentials", "component": "woocommerce",
         "cfg": {"a": "\x00"}, "account_data": {}},
        content_type="application/json", HTTP_AUTHORIZATION=f"Basic {basic}",
    )  # fmt: skip
    assert answer.status_code == 400
    assert not Execution.objects.exists()
