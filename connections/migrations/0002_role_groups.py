"""Give the roles their connection permissions and jobruns.invoke_service
(core/roles.py; the same sync as core's 0004)."""

from __future__ import annotations

from django.db import migrations

from core.roles import sync_role_groups


class Migration(migrations.Migration):
    dependencies = [
        ("connections", "0001_initial"),
        ("jobruns", "0007_invoke_service_permission"),
        ("scheduler_site", "0005_audit_events"),
    ]

    operations = [migrations.RunPython(sync_role_groups, migrations.RunPython.noop)]
