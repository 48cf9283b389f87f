"""The audit trail (AuditEvent); viewers may read it (roles.py)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from core.roles import sync_role_groups


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("scheduler_site", "0004_role_groups"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditEvent",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True,
                        primary_key=True,
                        serialize=False,
                        verbose_name="ID",
                    ),
                ),
                ("at", models.DateTimeField()),
                ("actor_label", models.CharField(blank=True, max_length=200)),
                (
                    "action",
                    models.CharField(
                        choices=[
                            ("create", "Create"),
                            ("change", "Change"),
                            ("delete", "Delete"),
                            ("pause", "Pause"),
                            ("resume", "Resume"),
                            ("run_now", "run now"),
                            ("cancel", "Cancel"),
                            ("retry", "Retry"),
                            ("verify", "Verify"),
                        ],
                        max_length=16,
                    ),
                ),
                ("object_id", models.CharField(max_length=64)),
                ("object_repr", models.CharField(max_length=200)),
                (
                    "interface",
                    models.CharField(
                        choices=[
                            ("admin", "Admin"),
                            ("api", "native API"),
                            ("cli", "command line"),
                            ("conductor", "Conductor API"),
                            ("openspecimen", "OpenSpecimen API"),
                            ("elasticio", "elastic.io API"),
                            ("system", "System"),
                        ],
                        max_length=16,
                    ),
                ),
                ("remote_addr", models.GenericIPAddressField(blank=True, null=True)),
                ("changes", models.JSONField(blank=True, default=dict)),
                (
                    "actor",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "content_type",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="contenttypes.contenttype",
                    ),
                ),
            ],
            options={
                "ordering": ["-at", "-id"],
                "indexes": [
                    models.Index(
                        fields=["content_type", "object_id", "-at"],
                        name="audit_object_idx",
                    ),
                    models.Index(fields=["-at"], name="audit_at_idx"),
                ],
            },
        ),
        migrations.RunPython(sync_role_groups, migrations.RunPython.noop),
    ]
