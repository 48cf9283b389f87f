"""The admin's navigation sidebar, its HTML made once per distinct app list.

Every admin page renders Django's admin/app_list.html in the sidebar: 16
models, 2 ms a page, a tenth of a page of runs at a million (bench/RESULTS.md,
"The admin run list's CPU"). The list itself (`available_apps`) is still built
per request by AdminSite.each_context, every permission checked; only the HTML
made from it is kept, keyed by everything app_list.html reads from its
context: each app's and model's label, name and links, whether the request's
path is within them, and the active language. An override of app_list.html
that reads more must add it to `_shape`.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.template.defaultfilters import urlencode
from django.utils.safestring import SafeString
from django.utils.translation import get_language

register = template.Library()

_RENDERED: dict[tuple[Any, ...], SafeString] = {}
_KEEP = 256  # distinct (permissions, current page, language) shapes; then start over


@register.simple_tag(takes_context=True)
def sidebar_app_list(context: template.Context) -> SafeString:
    """What `{% include "admin/app_list.html" with app_list=available_apps
    show_changelinks=False %}` renders in Django's nav_sidebar.html."""
    apps = context.get("available_apps") or []
    path = urlencode(context["request"].path)
    key = (get_language(), context.autoescape, _shape(apps, path))
    html = _RENDERED.get(key)
    if html is None:
        engine = context.template.engine  # type: ignore[union-attr]
        app_list = engine.get_template("admin/app_list.html")
        with context.push(app_list=apps, show_changelinks=False):
            html = app_list.render(context)
        if len(_RENDERED) >= _KEEP:
            _RENDERED.clear()
        _RENDERED[key] = html
    return html


def _shape(apps: list[dict[str, Any]], path: str) -> tuple[Any, ...]:
    return tuple(
        (
            app["app_label"],
            str(app["name"]),
            app.get("app_url"),
            _within(app.get("app_url"), path),
            tuple(
                (
                    model["object_name"],
                    str(model["name"]),
                    model.get("admin_url"),
                    model.get("add_url"),
                    _within(model.get("admin_url"), path),
                )
                for model in app["models"]
            ),
        )
        for app in apps
    )


def _within(url: Any, path: str) -> bool:
    # The template's `{% if url in request.path|urlencode %}`: false for no URL.
    return isinstance(url, str) and url in path
