"""Per-action permissions for API views, checked against Django permissions.

Each view names the permission every action needs (``action_permissions`` on
viewsets, ``method_permissions`` on plain views). An action without an entry is
refused: a new endpoint without a rule fails closed, and the authorization
matrix test notices it. Groups (viewer, operator, editor) hold these
permissions, so the same rules hold in the admin and every API.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request


def required_permission(view: Any, request: Request) -> str | None:
    action = getattr(view, "action", None)
    table = getattr(view, "action_permissions", None)
    if action is not None and table is not None:
        return table.get(action)
    methods = getattr(view, "method_permissions", None) or {}
    method = request.method or "GET"
    return methods.get(method.upper()) or (
        methods.get("GET") if method.upper() in {"HEAD", "OPTIONS"} else None
    )


class HasActionPermission(BasePermission):
    message = "You do not have permission to perform this action."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        permission = required_permission(view, request)
        if permission is None:
            return False
        return bool(user.has_perm(permission))
