"""Drop the two foreign keys' own indexes, which others already cover.

By hand (SeparateDatabaseAndState) rather than AlterField(db_index=False): on
that change Django drops every single-column index it finds on the column, and
`jobrun_one_exclusive_in_progress` (a partial UNIQUE index on schedule_id) is
one of them: the guarantee of one exclusive run in progress would go with it.
AlterField would also drop and re-add the foreign keys, checking every row again.
The index names are the ones Django gave them in 0001 (the same on SQLite).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

TABLE = "jobruns_jobrun"
# Covered by jobrun_history_idx (schedule_id, queued_at DESC) and
# jobrun_schedule_recent_idx (schedule_id, id DESC): every lookup by schedule,
# SET_NULL's UPDATE and the foreign key's check when a schedule is deleted.
SCHEDULE_INDEX = "jobruns_jobrun_schedule_id_0288d178"
# Covered by jobrun_attempt_once UNIQUE (retry_of_id, attempt).
RETRY_OF_INDEX = "jobruns_jobrun_retry_of_id_98b0caaa"


def _drop(name: str, column: str) -> migrations.RunSQL:
    return migrations.RunSQL(
        sql=f'DROP INDEX IF EXISTS "{name}"',
        reverse_sql=f'CREATE INDEX "{name}" ON "{TABLE}" ("{column}")',
    )


class Migration(migrations.Migration):
    dependencies = [
        ("jobruns", "0009_run_list_order_indexes"),
        ("schedules", "0003_notify_dispatcher_on_change"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                _drop(SCHEDULE_INDEX, "schedule_id"),
                _drop(RETRY_OF_INDEX, "retry_of_id"),
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="jobrun",
                    name="retry_of",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="retries",
                        to="jobruns.jobrun",
                    ),
                ),
                migrations.AlterField(
                    model_name="jobrun",
                    name="schedule",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="runs",
                        to="schedules.schedule",
                    ),
                ),
            ],
        ),
    ]
