from __future__ import annotations

from typing import Any

from rest_framework.request import Request


def acting_user(request: Request) -> Any:
    """The signed-in user of a request that passed our permission classes.

    Every native view requires a signed-in user (HasActionPermission), so the
    anonymous half of ``request.user``'s type cannot reach a service.
    """
    user = request.user
    assert user.is_authenticated, "permission classes let an anonymous user through"
    return user
