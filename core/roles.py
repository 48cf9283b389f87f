"""The three roles, as Django groups: one table, used by a migration.

viewer reads everything but secrets (credentials and outgoing connections are
only ever shown masked), the audit trail included;
operator may also act on what exists (run now, pause, resume, cancel, retry,
verify credentials, test connections, ask a component for options or metadata);
editor may also create, change and delete schedules, credentials and
connections, and invoke any service with any input. Superusers pass every
check. Changing a role, or adding a model whose permissions a role holds, needs
a migration that calls ``sync_role_groups`` again. Because these are ordinary
Django permissions, the admin, the native API and the compatible endpoints all
enforce the same rules.
"""

from __future__ import annotations

from typing import Any

VIEWER = [
    "schedules.view_schedule",
    "schedules.view_scheduletag",
    "jobruns.view_jobrun",
    "executions.view_execution",
    "executions.view_credential",
    "connections.view_outgoingconnection",
    "scheduler_site.view_workerheartbeat",
    "scheduler_site.view_auditevent",
]
OPERATOR = [
    *VIEWER,
    "schedules.run_schedule",
    "schedules.pause_schedule",
    "jobruns.cancel_jobrun",
    "jobruns.retry_jobrun",
    "executions.verify_credential",
    "executions.add_execution",
    "connections.test_outgoingconnection",
]
EDITOR = [
    *OPERATOR,
    "schedules.add_schedule",
    "schedules.change_schedule",
    "schedules.delete_schedule",
    "schedules.add_scheduletag",
    "schedules.change_scheduletag",
    "schedules.delete_scheduletag",
    "executions.add_credential",
    "executions.change_credential",
    "executions.delete_credential",
    "connections.add_outgoingconnection",
    "connections.change_outgoingconnection",
    "connections.delete_outgoingconnection",
    "jobruns.invoke_service",
]
ROLES = {"viewer": VIEWER, "operator": OPERATOR, "editor": EDITOR}


def sync_role_groups(apps: Any, schema_editor: Any = None) -> None:
    """Create or update the groups so each holds exactly its role's permissions."""
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after migrate; make sure they exist now.
    # A migration's app configs have no models module, which create_permissions
    # insists on; lend one for the call and put back what was there.
    for app_config in apps.get_app_configs():
        models_module = getattr(app_config, "models_module", None)
        app_config.models_module = models_module or True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = models_module
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for role, names in ROLES.items():
        group, _ = group_model.objects.get_or_create(name=role)
        group.permissions.set(_permissions(permission_model, names))


def _permissions(permission_model: Any, dotted_names: list[str]) -> list[Any]:
    """The permissions that exist at this point of the migration history.

    Replaying migrations from scratch runs this before later models exist; the
    migration that adds such a model calls sync_role_groups again.
    """
    found = []
    for dotted in dotted_names:
        app_label, codename = dotted.split(".", 1)
        found.extend(
            permission_model.objects.filter(
                content_type__app_label=app_label, codename=codename
            )
        )
    return found
