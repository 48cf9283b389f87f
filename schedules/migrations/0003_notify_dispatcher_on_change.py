"""PostgreSQL: tell a sleeping dispatcher that schedules changed (issue 13).

A statement-level trigger sends NOTIFY schedules_changed after any INSERT, or any
UPDATE of next_run_at or is_paused, whoever writes (admin, API, Conductor, CLI).
PostgreSQL delivers one notification per transaction however many rows or
statements sent it, at commit. The dispatcher LISTENs while it sleeps
(`jobruns.beat`), so a schedule due sooner than its sleep starts on time. SQLite
has no NOTIFY: there the dispatcher's capped sleep bounds the delay.
"""

from __future__ import annotations

from django.db import migrations

CHANNEL = "schedules_changed"

CREATE = f"""
CREATE OR REPLACE FUNCTION schedules_notify_change() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', '');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER schedules_notify_change
    AFTER INSERT OR UPDATE OF next_run_at, is_paused ON schedules_schedule
    FOR EACH STATEMENT EXECUTE FUNCTION schedules_notify_change();
"""

DROP = """
DROP TRIGGER IF EXISTS schedules_notify_change ON schedules_schedule;
DROP FUNCTION IF EXISTS schedules_notify_change();
"""


def create(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("schedules", "0002_schedule_permissions")]

    operations = [migrations.RunPython(create, drop)]
