"""Beat sends the sent-e-mail prune nightly at 03:37 UTC (after the run prune).

Stored in django-celery-beat's tables like the other system tasks (jobruns 0002),
so operators see and can tune it in the admin.
"""

from __future__ import annotations

from django.db import migrations

PRUNE = "connections.prune_sent_emails"


def create_task(apps, schema_editor):  # type: ignore[no-untyped-def]
    crontab_model = apps.get_model("django_celery_beat", "CrontabSchedule")
    periodic_model = apps.get_model("django_celery_beat", "PeriodicTask")
    nightly, _ = crontab_model.objects.get_or_create(
        minute="37",
        hour="3",
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone="UTC",
    )
    periodic_model.objects.update_or_create(
        name="System: prune sent e-mail records",
        defaults={"task": PRUNE, "crontab": nightly, "enabled": True, "queue": "runs"},
    )


def remove_task(apps, schema_editor):  # type: ignore[no-untyped-def]
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(
        task=PRUNE
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("connections", "0002_role_groups"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_task, remove_task)]
