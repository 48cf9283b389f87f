"""The run list's rows tag: Django's result_list with cheaper rows (admin_list)."""

from __future__ import annotations

from typing import Any

from django.contrib.admin.templatetags.base import InclusionAdminNode
from django.template import Library
from django.template.base import Parser, Token

from jobruns.admin_list import result_list

register = Library()


@register.tag(name="run_result_list")
def run_result_list_tag(parser: Parser, token: Token) -> Any:
    # As Django registers result_list: the same template, overridable the same way.
    return InclusionAdminNode(
        parser,
        token,
        func=result_list,
        template_name="change_list_results.html",
        takes_context=False,
    )
