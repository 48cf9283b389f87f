"""Create the viewer, operator and editor groups (core/roles.py)."""

from __future__ import annotations

from django.db import migrations

from core.roles import sync_role_groups


class Migration(migrations.Migration):
    dependencies = [
        ("scheduler_site", "0003_profiles_and_api_tokens"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("schedules", "0002_schedule_permissions"),
        ("jobruns", "0003_alter_jobrun_options"),
        ("executions", "0003_alter_credential_options"),
    ]

    operations = [migrations.RunPython(sync_role_groups, migrations.RunPython.noop)]
