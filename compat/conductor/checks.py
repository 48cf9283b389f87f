"""`manage.py check --deploy` says when the Conductor API runs without keys."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def open_mode_warning(
    app_configs: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    if settings.CONDUCTOR_AUTH_REQUIRED:
        return []
    return [
        checks.Warning(
            "The Conductor API accepts calls without a token "
            "(CONDUCTOR_AUTH_REQUIRED=false); they act as "
            f"{settings.CONDUCTOR_ANONYMOUS_USER!r}.",
            hint="Turn key auth on, or give that user only the groups it needs.",
            id="conductor_compat.W001",
        )
    ]
