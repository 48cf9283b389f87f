from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet

from executions.components import Component, Module, all_components
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


def component_action_get(target: str) -> tuple[Component, str, Module] | None:
    """The component action that runs as job service ``target``, if any."""
    for component in all_components():
        for key, module in component.actions.items():
            if module.service and module.service == target:
                return component, key, module
    return None


def component_action_list() -> list[dict[str, Any]]:
    """Every component action a schedule can target, keyed by its job service:
    its fields and the component's stored credentials (names and last check)."""
    stored: dict[str, list[dict[str, Any]]] = {}
    rows = Credential.objects.order_by("name").values_list(
        "component", "name", "last_verification"
    )
    for component_name, name, verification in rows:
        verified = (verification or {}).get("verified")
        stored.setdefault(component_name, []).append(
            {"name": name, "verified": verified}
        )
    return [
        {
            **module.as_dict(key),
            "target": module.service,
            "component": component.name,
            "component_title": component.title,
            "credentials": stored.get(component.name, []),
        }
        for component in all_components()
        for key, module in component.actions.items()
        if module.service
    ]
