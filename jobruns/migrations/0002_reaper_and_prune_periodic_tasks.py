"""Beat sends the reaper every 5 s and the retention prune nightly at 03:17 UTC.

Stored in django-celery-beat's tables so operators can see and tune them in the
admin, like the worker heartbeat (scheduler_site 0002).
"""

from __future__ import annotations

from django.db import migrations

REAP = "jobruns.reap"
PRUNE = "jobruns.prune"


def create_tasks(apps, schema_editor):  # type: ignore[no-untyped-def]
    interval_model = apps.get_model("django_celery_beat", "IntervalSchedule")
    crontab_model = apps.get_model("django_celery_beat", "CrontabSchedule")
    periodic_model = apps.get_model("django_celery_beat", "PeriodicTask")
    every, _ = interval_model.objects.get_or_create(every=5, period="seconds")
    periodic_model.objects.update_or_create(
        name="System: reap lost runs",
        defaults={"task": REAP, "interval": every, "enabled": True, "queue": "runs"},
    )
    # 03:17, not 03:00: away from the top of the hour, when user jobs crowd.
    nightly, _ = crontab_model.objects.get_or_create(
        minute="17",
        hour="3",
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone="UTC",
    )
    periodic_model.objects.update_or_create(
        name="System: prune old runs",
        defaults={"task": PRUNE, "crontab": nightly, "enabled": True, "queue": "runs"},
    )


def remove_tasks(apps, schema_editor):  # type: ignore[no-untyped-def]
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(
        task__in=[REAP, PRUNE]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("jobruns", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_tasks, remove_tasks)]
