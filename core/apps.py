from __future__ import annotations

from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Accounts, tokens, roles, audit and the API plumbing every app imports.

    The label stays ``scheduler_site``: these models were born in the site
    package, and the label names their tables, migrations, content types and
    permissions (``scheduler_site.view_auditevent``). Changing it would move
    data for no user-visible gain.
    """

    name = "core"
    label = "scheduler_site"
    verbose_name = "System"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models import Field, ForeignObject

        from core import signals  # noqa: F401  (connects worker signals)
        from core.lookups import AnyOf

        Field.register_lookup(AnyOf)
        # Relations keep lookups of their own (Django's related lookups).
        ForeignObject.register_lookup(AnyOf)
