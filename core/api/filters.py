from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import django_filters
from django.db.models import QuerySet


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    """ISO 8601 instant, compared in UTC.

    Any valid offset is accepted (ISO allows up to ±23:59), but PostgreSQL
    refuses offsets beyond ±15:59 in a literal; converting to UTC first makes
    every valid instant a valid query instead of a database error.
    """

    def filter(self, qs: QuerySet[Any], value: datetime | None) -> QuerySet[Any]:
        if value is not None:
            value = value.astimezone(UTC)
        return super().filter(qs, value)  # type: ignore[no-any-return]
