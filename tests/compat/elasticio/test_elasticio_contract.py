"""elastic.io's documented contract: Basic e-mail + API key, 404 naming the id,
409 for a type the endpoint does not take, and a v1 result read only once."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from core.accounts import api_token_create
from executions.models import Execution
from executions.services import execution_claim, execution_create, execution_finish

VERIFY = "/v2/components/woocommerce/versions/latest/verify-credential"
SHOP = {
    "url": "https://shop.example.com",
    "consumer_key": "ck_0123456789abcdef0123456789abcdef01234567",
    "consumer_secret": "cs_0123456789abcdef0123456789abcdef01234567",
}
WORKSPACE = {"workspace": {"data": {"id": "ws1", "type": "workspace"}}}


def basic(user: str, password: str) -> dict[str, Any]:
    pair = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {pair}"}


def verify_body(kind: str = "verify-credential") -> str:
    return json.dumps(
        {"data": {"type": kind, "attributes": {"fields": SHOP},
                  "relationships": WORKSPACE}}
    )  # fmt: skip


@pytest.fixture
def api_key(superuser: Any) -> str:
    return api_token_create(user=superuser, name="elastic.io client")[1]


@pytest.fixture
def as_key(client: Client, superuser: Any, api_key: str) -> Client:
    client.defaults.update(basic(superuser.email, api_key))
    return client


def test_basic_auth_takes_the_users_email_and_an_api_key_as_the_docs_show(
    client: Client, superuser: Any, api_key: str
) -> None:
    response = client.post(
        VERIFY, verify_body(), content_type="application/json",
        **basic("alice@example.com", api_key),
    )  # fmt: skip

    assert response.status_code == 202, response.content
    assert Execution.objects.get().requested_by == superuser


def test_an_api_key_sent_with_another_users_email_is_refused(
    client: Client, superuser: Any, api_key: str
) -> None:
    response = client.post(
        VERIFY, verify_body(), content_type="application/json",
        **basic("mallory@example.com", api_key),
    )  # fmt: skip

    assert response.status_code == 401
    assert response.json()["errors"][0]["status"] == 401


def test_a_revoked_or_unknown_key_is_refused(client: Client, superuser: Any) -> None:
    response = client.post(
        VERIFY, verify_body(), content_type="application/json",
        **basic("alice@example.com", "sch_not-a-key"),
    )  # fmt: skip

    assert response.status_code == 401


def test_a_404_names_the_missing_execution_in_source_parameter_id(
    as_key: Client,
) -> None:
    missing = str(uuid.uuid4())

    for path in (f"/v2/exec/poll/{missing}", f"/v2/exec/result/{missing}"):
        error = as_key.get(path).json()["errors"][0]
        assert error["status"] == 404
        assert error["source"] == {"parameter": {"id": missing}}


def test_a_404_names_the_missing_component(as_key: Client) -> None:
    response = as_key.post(
        "/v2/components/nope/versions/latest/verify-credential",
        verify_body(), content_type="application/json",
    )  # fmt: skip

    assert response.status_code == 404
    assert response.json()["errors"][0]["source"] == {"parameter": {"id": "nope"}}


@pytest.mark.parametrize(
    ("path", "sent"),
    [
        (VERIFY, "select-model"),
        (VERIFY, "credential"),
        (
            "/v2/components/woocommerce/versions/latest/select-model",
            "verify-credential",
        ),
    ],
)
def test_a_data_type_the_endpoint_does_not_take_is_a_409_conflict(
    as_key: Client, path: str, sent: str
) -> None:
    response = as_key.post(path, verify_body(sent), content_type="application/json")

    assert response.status_code == 409
    error = response.json()["errors"][0]
    assert (error["title"], error["source"]) == ("Conflict", {"pointer": "/data/type"})
    assert not Execution.objects.exists()


def test_a_missing_data_type_is_still_a_400(as_key: Client) -> None:
    body = {"data": {"attributes": {"fields": SHOP}, "relationships": WORKSPACE}}
    response = as_key.post(VERIFY, json.dumps(body), content_type="application/json")

    assert response.status_code == 400


def _finished(status: str, superuser: Any) -> Execution:
    now = timezone.now()
    execution = execution_create(
        component="woocommerce", method="verify_credentials", cfg=SHOP,
        requested_by=superuser, via=Execution.Via.V1, now=now, dispatch=False,
    )  # fmt: skip
    assert execution_claim(execution_id=execution.pk, worker="test#1", now=now)
    execution_finish(
        execution_id=execution.pk, status=status, now=now,
        result={"verified": True}, error="HTTP 500 from the shop",
    )  # fmt: skip
    return execution


@pytest.mark.parametrize(
    ("status", "first"),
    [(Execution.Status.SUCCEEDED, 200), (Execution.Status.FAILED, 400)],
)
def test_a_v1_result_may_be_retrieved_only_once(
    as_key: Client, superuser: Any, api_key: str, status: str, first: int
) -> None:
    execution = _finished(status, superuser)
    path = f"/v1/exec/result/{execution.pk}"

    assert as_key.get(path).status_code == first
    again = as_key.get(path)
    poll = as_key.get(f"/v1/exec/poll/{execution.pk}")

    assert (again.status_code, again.json()) == (
        404,
        {"message": "Result does not exist."},
    )
    assert poll.status_code == 404
    # The native API still shows it: only v1's reader consumed it.
    native = as_key.get(
        f"/api/v1/executions/{execution.pk}/", HTTP_AUTHORIZATION=f"Bearer {api_key}"
    )
    assert native.status_code == 200
