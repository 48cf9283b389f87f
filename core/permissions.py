"""Per-action permissions for API views, checked against Django permissions.

Each view names the permission every action needs (``action_permissions`` on
viewsets, ``method_permissions`` on plain views). An action without an entry is
refused: a new endpoint without a rule fails closed, and the authorization
matrix test notices it. Groups (viewer, operator, editor) hold these
permissions, so the same rules hold in the admin and every API. ``SIGNED_IN``
in place of a permission lets every signed-in user in: for what is their own
(profile, personal tokens) and for the API's documentation.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

# Not a Django permission: any signed-in user may (their own profile and tokens).
SIGNED_IN = "signed_in"


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
        if not _handles(view, request):
            return True  # the view answers 405 Method Not Allowed next
        permission = required_permission(view, request)
        if permission is None:
            return False
        return permission == SIGNED_IN or bool(user.has_perm(permission))


def _handles(view: Any, request: Request) -> bool:
    """Whether the view has a handler for the method at all."""
    method = (request.method or "GET").lower()
    action_map = getattr(view, "action_map", None)
    if action_map is not None:
        return method in action_map or method == "options"
    return hasattr(view, method)
