"""`field__any_of=[...]`: a membership test with the values as ONE parameter.

Django's `__in` gives every value its own placeholder and builds a parameter
expression per value in Python; for the dispatcher's batch of hundreds of
schedule ids that was a few milliseconds a query, three queries a batch, more
than PostgreSQL took to answer them. On PostgreSQL `any_of` is
`column = ANY(%s)` with the list as one array; elsewhere it is a plain `IN`.
Registered on every field and relation by `CoreConfig.ready` (values, not model
instances, on a relation); Django's custom-lookup API
(`Field.register_lookup`) is the supported way to add one.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db.models import Lookup


class AnyOf(Lookup):  # type: ignore[type-arg]
    lookup_name = "any_of"
    prepare_rhs = False

    def get_prep_lookup(self) -> list[Any]:
        return list(self.rhs)

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        values = self.rhs
        if not values:
            raise EmptyResultSet  # as `__in=[]`: matches nothing, sends nothing
        lhs, params = self.process_lhs(compiler, connection)
        if connection.vendor == "postgresql":
            return f"{lhs} = ANY(%s)", [*params, values]
        placeholders = ", ".join(["%s"] * len(values))
        return f"{lhs} IN ({placeholders})", [*params, *values]
