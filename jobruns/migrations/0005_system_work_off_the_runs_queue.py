"""The reaper and the worker heartbeat leave the runs queue (issue 13).

Both were periodic messages on `runs`, where long runs holding every worker slot
made them wait: a killed worker's run was found lost after 86 s instead of ~30 s,
and /readyz said "no worker seen" about healthy workers. The reaper now runs in
the dispatcher's loop (`jobruns.beat`), the worker heartbeat in a thread of each
worker's main process (`core.signals`); their beat entries go.
"""

from __future__ import annotations

from django.db import migrations

REAP = "jobruns.reap"
WORKER_HEARTBEAT = "system.worker_heartbeat"


def remove_tasks(apps, schema_editor):  # type: ignore[no-untyped-def]
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(
        task__in=[REAP, WORKER_HEARTBEAT]
    ).delete()


def restore_tasks(apps, schema_editor):  # type: ignore[no-untyped-def]
    interval_model = apps.get_model("django_celery_beat", "IntervalSchedule")
    periodic_model = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, seconds in (
        ("System: reap lost runs", REAP, 5),
        ("System: worker heartbeat", WORKER_HEARTBEAT, 15),
    ):
        every, _ = interval_model.objects.get_or_create(every=seconds, period="seconds")
        periodic_model.objects.update_or_create(
            name=name,
            defaults={
                "task": task,
                "interval": every,
                "enabled": True,
                "queue": "runs",
            },
        )


class Migration(migrations.Migration):
    dependencies = [
        ("jobruns", "0004_jobrun_has_waiter"),
        ("scheduler_site", "0002_worker_heartbeat_periodic_task"),
    ]

    operations = [migrations.RunPython(remove_tasks, restore_tasks)]
