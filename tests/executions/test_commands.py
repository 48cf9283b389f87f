"""The CLI runs executions through the same service and speaks in exit codes."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command

from executions.services import credential_create
from tests.executions.fakeshop import FakeShop

pytestmark = pytest.mark.django_db


def test_execute_prints_the_result_of_a_select_model(shop: FakeShop) -> None:
    out = StringIO()
    call_command(
        "execute",
        "woocommerce",
        "select_model",
        "--module",
        "list_products",
        "--model-method",
        "categories",
        "--cfg",
        json.dumps(shop.cfg()),
        stdout=out,
    )
    printed = json.loads(out.getvalue())
    assert printed["status"] == "succeeded"
    assert printed["result"]["22"] == "Mugs"


def test_execute_exits_1_when_the_execution_fails(shop: FakeShop) -> None:
    with pytest.raises(SystemExit) as ended:
        call_command(
            "execute",
            "woocommerce",
            "get_meta_model",
            "--module",
            "list_products",
            "--cfg",
            json.dumps(shop.cfg()),
            stdout=StringIO(),
        )
    assert ended.value.code == 1


def test_execute_refuses_bad_input_with_a_sentence_and_exit_2() -> None:
    with pytest.raises(CommandError, match="--cfg is not JSON") as refused:
        call_command("execute", "woocommerce", "verify_credentials", "--cfg", "{")
    assert refused.value.returncode == 2
    with pytest.raises(CommandError, match="module: woocommerce has no action"):
        call_command("execute", "woocommerce", "get_meta_model", "--module", "nope")


def test_verify_credentials_verifies_a_stored_credential(shop: FakeShop) -> None:
    credential_create(name="myshop", component="woocommerce", fields=shop.cfg())
    out = StringIO()
    call_command("verify_credentials", "myshop", stdout=out)
    assert json.loads(out.getvalue())["result"] == {"verified": True}
    with pytest.raises(CommandError, match="No credential is named 'nope'"):
        call_command("verify_credentials", "nope")


def test_rotate_credentials_key_reencrypts_with_the_first_key(
    shop: FakeShop, settings: object
) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.CREDENTIALS_ENCRYPTION_KEYS = [old]  # type: ignore[attr-defined]
    credential_create(name="myshop", component="woocommerce", fields=shop.cfg())
    settings.CREDENTIALS_ENCRYPTION_KEYS = [new, old]  # type: ignore[attr-defined]
    out = StringIO()
    call_command("rotate_credentials_key", stdout=out)
    assert "Re-encrypted 1 value(s)" in out.getvalue()
