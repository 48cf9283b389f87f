"""Beat sends the executions reaper every 10 s and the prune task hourly.

Stored in django-celery-beat's tables so operators can see and tune them in the
admin. Both go to the `executions` queue, which only execution workers consume.
"""

from __future__ import annotations

from django.db import migrations

TASKS = {
    "executions.reap": ("Executions: reap lost executions", 10, "seconds"),
    "executions.prune": ("Executions: prune expired results", 1, "hours"),
}


def create_tasks(apps, schema_editor):  # type: ignore[no-untyped-def]
    interval_model = apps.get_model("django_celery_beat", "IntervalSchedule")
    periodic_model = apps.get_model("django_celery_beat", "PeriodicTask")
    for task, (name, every, period) in TASKS.items():
        interval, _ = interval_model.objects.get_or_create(every=every, period=period)
        periodic_model.objects.update_or_create(
            name=name,
            defaults={
                "task": task,
                "interval": interval,
                "enabled": True,
                "queue": "executions",
            },
        )


def remove_tasks(apps, schema_editor):  # type: ignore[no-untyped-def]
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(
        task__in=list(TASKS)
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("executions", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_tasks, remove_tasks)]
