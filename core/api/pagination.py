"""List paging for the native API: ``limit`` and ``offset``, checked, not guessed.

DRF's LimitOffsetPagination silently replaces a bad ``limit`` with the default
and ignores any other paging word a client tries (``page_size``, ``page``), so
a client asking for 500 items got 50 without a word. Here ``page_size`` is an
alias of ``limit`` (many clients send it), the largest page is MAX_LIMIT, and
anything else about paging is a 400 that says what to send instead.
"""

from __future__ import annotations

from typing import Any

from rest_framework import pagination
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    default_limit = DEFAULT_LIMIT
    max_limit = MAX_LIMIT
    alias_query_param = "page_size"

    def get_limit(self, request: Request) -> int:
        if "page" in request.query_params:
            raise ValidationError(
                {"page": ["this API pages with offset and limit, not page"]}
            )
        name = self.limit_query_param
        if name not in request.query_params and (
            self.alias_query_param in request.query_params
        ):
            name = self.alias_query_param
        raw = request.query_params.get(name)
        if raw is None:
            return self.default_limit
        return _bounded(name, raw, 1, self.max_limit)

    def get_offset(self, request: Request) -> int:
        raw = request.query_params.get(self.offset_query_param)
        if raw is None:
            return 0
        return _bounded(self.offset_query_param, raw, 0, None)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.limit_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_limit)
                parameter["description"] = (
                    f"Items per page (default {self.default_limit}, at most "
                    f"{self.max_limit}); `page_size` is accepted as a synonym."
                )
            elif parameter["name"] == self.offset_query_param:
                parameter["schema"].update(minimum=0)
        return parameters


def _bounded(name: str, raw: str, low: int, high: int | None) -> int:
    bounds = f"between {low} and {high}" if high is not None else f"of at least {low}"
    message = f"{name} must be a whole number {bounds}, got {raw!r}"
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        raise ValidationError({name: [message]})
    value = int(raw)
    if value < low or (high is not None and value > high):
        raise ValidationError({name: [message]})
    return value
