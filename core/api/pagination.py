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
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from core.counting import EXACT_COUNT_UP_TO, count_bounded

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


class EstimatedCountPagination(LimitOffsetPagination):
    """Limit/offset without a ``COUNT(*)`` of a big table on every page.

    A list of a million runs spent most of its time counting them. Here:

    * the page reads ``limit + 1`` rows, so ``next`` is known without a count;
    * a page that reaches the end knows the count (offset + rows): no count;
    * otherwise ``core.counting.count_bounded``: exact up to
      EXACT_COUNT_UP_TO, past it PostgreSQL's planner estimate for the same
      query, and ``count_is_exact`` is false.

    Clients keep ``count``/``next``/``previous``/``results``; ``count_is_exact``
    is new. Written by hand: DRF has no estimated count.
    """

    exact_count_up_to: int | None = None  # core.counting.EXACT_COUNT_UP_TO

    def paginate_queryset(
        self, queryset: Any, request: Request, view: Any = None
    ) -> list[Any]:
        self.request = request
        self.limit = limit = self.get_limit(request)
        self.offset = offset = self.get_offset(request)
        rows = list(queryset[offset : offset + limit + 1])
        self.has_next = len(rows) > limit
        rows = rows[:limit]
        if not self.has_next and (rows or not offset):
            self.count, self.count_is_exact = offset + len(rows), True
        else:
            self.count, self.count_is_exact = count_bounded(
                queryset,
                exact_up_to=self.exact_count_up_to,
                at_least=offset + len(rows) + int(self.has_next),
            )
        self.display_page_controls = self.template is not None and self.count > limit
        return rows

    def get_next_link(self) -> str | None:
        if not self.has_next:
            return None
        return super().get_next_link() or self._next_past_estimate()

    def _next_past_estimate(self) -> str:
        # The estimate may be below the offset reached; the rows say there is more.
        assert self.request is not None
        assert self.limit is not None
        assert self.offset is not None
        url = self.request.build_absolute_uri()
        url = replace_query_param(url, self.limit_query_param, self.limit)
        return replace_query_param(
            url, self.offset_query_param, self.offset + self.limit
        )

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {
                "count": self.count,
                "count_is_exact": self.count_is_exact,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        response = super().get_paginated_response_schema(schema)
        response["properties"]["count"]["description"] = (
            f"Matching items: exact up to {EXACT_COUNT_UP_TO:,}, above that "
            "the database's estimate (see `count_is_exact`)."
        )
        response["properties"] = {
            "count": response["properties"].pop("count"),
            "count_is_exact": {
                "type": "boolean",
                "example": True,
                "description": "False when `count` is an estimate; page with "
                "`next` until it is null rather than computing pages from it.",
            },
            **response["properties"],
        }
        response["required"] = ["count", "count_is_exact", "results"]
        return response


class _Keyset(pagination.CursorPagination):
    """DRF's cursor paging with the page size the caller already checked."""

    def __init__(self, page_size: int) -> None:
        self.page_size = page_size

    def get_page_size(self, request: Request) -> int | None:
        return self.page_size


class KeysetOptInPagination(EstimatedCountPagination):
    """EstimatedCountPagination, or keyset pages for a client that sends ``cursor``.

    An offset page reads and drops every row before it, so page 20,000 of a
    million runs reads a million index entries. With ``cursor`` (empty for the
    first page, then whatever ``next`` carries) each page starts where the last
    one ended: the same few index entries at any depth, and no count. Opt-in,
    so clients paging by offset see no change. The view names the orderings a
    cursor can hold (``cursor_ordering_fields``): non-null columns only, as a
    cursor cannot hold a position "among the nulls".
    """

    cursor_query_param = "cursor"
    keyset: _Keyset | None = None

    def paginate_queryset(
        self, queryset: Any, request: Request, view: Any = None
    ) -> list[Any]:
        if self.cursor_query_param not in request.query_params:
            return super().paginate_queryset(queryset, request, view)
        if self.offset_query_param in request.query_params:
            raise ValidationError(
                {"offset": ["page with either offset or cursor, not both"]}
            )
        self.keyset = _Keyset(self.get_limit(request))
        allowed = getattr(view, "cursor_ordering_fields", ())
        first = self.keyset.get_ordering(request, queryset, view)[0].lstrip("-")
        if first not in allowed:
            choices = ", ".join(allowed)
            raise ValidationError(
                {"ordering": [f"with cursor, order by one of: {choices}"]}
            )
        return list(self.keyset.paginate_queryset(queryset, request, view) or [])

    def get_paginated_response(self, data: Any) -> Response:
        if self.keyset is None:
            return super().get_paginated_response(data)
        return Response(
            {
                "next": self.keyset.get_next_link(),
                "previous": self.keyset.get_previous_link(),
                "results": data,
            }
        )

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        allowed = ", ".join(f"`{name}`" for name in view.cursor_ordering_fields)
        return [
            *super().get_schema_operation_parameters(view),
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Keyset paging, opt-in: send it empty for the "
                "first page, then follow `next` (which carries it). Every page "
                "costs the same at any depth; the response has no `count`. "
                f"Not with `offset`; `ordering` by {allowed} only.",
                "schema": {"type": "string"},
            },
        ]

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        response = super().get_paginated_response_schema(schema)
        response["required"] = ["results"]
        for name in ("count", "count_is_exact"):
            response["properties"][name]["description"] += (
                " Absent on keyset (`cursor`) pages."
            )
        return response
