from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet

from executions.models import Credential, Execution


def execution_list(*, user: Any) -> QuerySet[Execution]:
    """Staff see every execution; others only the ones they asked for."""
    rows = Execution.objects.select_related("credential")
    if getattr(user, "is_staff", False):
        return rows
    return rows.filter(requested_by_id=getattr(user, "pk", None))


def execution_get(*, execution_id: Any, user: Any) -> Execution | None:
    """The execution if it exists and ``user`` may see it (not a valid UUID: None)."""
    try:
        key = uuid.UUID(str(execution_id))
    except ValueError:
        return None
    return execution_list(user=user).filter(pk=key).first()


def credential_list() -> QuerySet[Credential]:
    return Credential.objects.all()
