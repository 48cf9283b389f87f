"""Beat sends the worker heartbeat task every WORKER_HEARTBEAT_SECONDS (15 s by default).

Stored in django-celery-beat's tables so operators can see and tune it in the admin.
"""

from __future__ import annotations

from django.db import migrations

TASK = "system.worker_heartbeat"


def create_heartbeat_task(apps, schema_editor):  # type: ignore[no-untyped-def]
    interval_model = apps.get_model("django_celery_beat", "IntervalSchedule")
    periodic_model = apps.get_model("django_celery_beat", "PeriodicTask")
    every, _ = interval_model.objects.get_or_create(every=15, period="seconds")
    periodic_model.objects.update_or_create(
        name="System: worker heartbeat",
        defaults={"task": TASK, "interval": every, "enabled": True, "queue": "runs"},
    )


def remove_heartbeat_task(apps, schema_editor):  # type: ignore[no-untyped-def]
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(
        task=TASK
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("scheduler_site", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_heartbeat_task, remove_heartbeat_task)]
