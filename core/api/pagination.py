"""Limit/offset pagination that cannot be asked for more than the database takes."""

from __future__ import annotations

from typing import Any

from rest_framework.pagination import LimitOffsetPagination

# Past PostgreSQL's bigint a LIMIT or OFFSET is an error (a 500), not an empty page.
MAX_OFFSET = 2**62


class Pagination(LimitOffsetPagination):
    max_limit = 1000

    def get_offset(self, request: Any) -> int:
        return min(super().get_offset(request), MAX_OFFSET)
