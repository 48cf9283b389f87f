from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.django_db


def test_a_viewer_reads_but_may_not_act(viewer: Any) -> None:
    assert viewer.has_perm("schedules.view_schedule")
    assert viewer.has_perm("executions.view_credential")
    assert not viewer.has_perm("schedules.run_schedule")
    assert not viewer.has_perm("executions.verify_credential")


def test_an_operator_acts_on_what_exists_but_may_not_edit(operator: Any) -> None:
    for permission in (
        "schedules.run_schedule",
        "schedules.pause_schedule",
        "jobruns.cancel_jobrun",
        "jobruns.retry_jobrun",
        "executions.verify_credential",
    ):
        assert operator.has_perm(permission), permission
    assert not operator.has_perm("schedules.change_schedule")
    assert not operator.has_perm("executions.add_credential")


def test_an_editor_also_creates_changes_and_deletes(editor: Any) -> None:
    for permission in (
        "schedules.add_schedule",
        "schedules.change_schedule",
        "schedules.delete_schedule",
        "executions.change_credential",
        "schedules.run_schedule",
    ):
        assert editor.has_perm(permission), permission


def test_an_outsider_holds_nothing(outsider: Any) -> None:
    assert not outsider.get_all_permissions()


def test_role_members_use_the_admin_within_their_permissions(
    client: Any, viewer: Any, outsider: Any
) -> None:
    client.force_login(viewer)
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/schedules/schedule/").status_code == 200
    assert client.get("/admin/schedules/schedule/add/").status_code == 403

    client.force_login(outsider)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_a_role_member_signs_in_through_the_admin_login_page(
    client: Any, editor: Any, outsider: Any
) -> None:
    from tests.conftest import PASSWORD

    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": editor.username, "password": PASSWORD},
    )
    assert response.status_code == 302
    assert response["Location"] == "/admin/"

    outsider.set_password(PASSWORD)
    outsider.save()
    refused = client.post(
        "/admin/login/", {"username": outsider.username, "password": PASSWORD}
    )
    assert refused.status_code == 200
    assert "Please enter the correct" in refused.content.decode()


@pytest.mark.django_db(transaction=True)
def test_role_groups_are_recreated_after_a_flush(operator: Any) -> None:
    assert operator.has_perm("schedules.run_schedule")
