"""The admin's navigation sidebar: the HTML Django's app_list.html makes, for
each person's permissions and page, though it is rendered once per shape."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.template import RequestContext, Template
from django.template.loader import render_to_string
from django.test import RequestFactory

pytestmark = pytest.mark.django_db


def _sidebars(user: Any, path: str) -> tuple[str, str]:
    """(ours, Django's include) for `user` on the page at `path`."""
    request = RequestFactory().get(path)
    request.user = user
    context = admin.site.each_context(request)
    ours = Template("{% load admin_sidebar %}{% sidebar_app_list %}").render(
        RequestContext(request, context)
    )
    django_own = render_to_string(
        "admin/app_list.html",
        {**context, "app_list": context["available_apps"], "show_changelinks": False},
        request=request,
    )
    return ours, django_own


@pytest.mark.parametrize("persona", ["superuser", "viewer", "outsider"])
def test_the_sidebar_is_what_djangos_app_list_renders_on_each_page(
    request: pytest.FixtureRequest, persona: str
) -> None:
    user = request.getfixturevalue(persona)
    pages = [
        "/admin/jobruns/jobrun/",
        "/admin/jobruns/",
        "/admin/schedules/",
        "/admin/",
    ]

    # Twice round: the second time from what the first kept.
    for path in pages + pages:
        ours, django_own = _sidebars(user, path)
        assert ours == django_own


def test_each_person_sees_the_sidebar_of_their_own_permissions(
    superuser: Any, viewer: Any
) -> None:
    path = "/admin/jobruns/jobrun/"

    for_superuser, _ = _sidebars(superuser, path)
    for_viewer, _ = _sidebars(viewer, path)

    assert 'class="model-user' in for_superuser
    assert 'class="model-user' not in for_viewer
    assert 'class="model-jobrun current-model"' in for_viewer
