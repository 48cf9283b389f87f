"""A dispatcher batch's runs: rows built in memory, written in one statement.

`jobruns.dispatcher` plans a batch's fires and builds their rows with the
`fire_*` helpers (nothing saved); `jobrun_insert_fires` writes them all at once
and answers the ones really inserted. Split out of `jobruns.services`, whose
helpers (validation, overlap marks, sending) these share; services import this
module only inside functions, so the two never import each other at load time.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from functools import partial
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from django.db.models.base import ModelState

from jobruns.models import JobRun
from jobruns.services import (
    EXCLUSIVE_POLICIES,
    _add_input_contexts,
    _mark_skipped,
    _schedule_input,
    _send_many_on_commit,
    _time_limit,
    _validate_request,
)

if TYPE_CHECKING:
    from schedules.models import Schedule

Status = JobRun.Status
Trigger = JobRun.Trigger


def _fire_row(schedule: Schedule, scheduled_for: datetime, *, now: datetime) -> JobRun:
    run = _blank_run()
    run.schedule_id = schedule.pk
    run.schedule_name = schedule.name
    run.service = schedule.target
    run.trigger = Trigger.SCHEDULED
    run.scheduled_for = scheduled_for
    run.triggered_by_label = "dispatcher"
    run.input = _schedule_input(schedule)
    run.extra = schedule.extra
    run.correlation_id = schedule.correlation_id
    run.time_limit_seconds = _time_limit(schedule)
    run.queued_at = now
    return run


def _blank_run() -> JobRun:
    """`JobRun()` with every field at its default, made by copying one made once.

    Why by hand: `Model.__init__` walks all 32 fields and asks each for its
    default, which was half of building a batch's rows (a dispatcher makes
    thousands a second) and more than the batch's INSERT cost in Python. What
    __init__ would leave differently per instance is made anew here: the model
    state, and every field whose default is a callable (a fresh list or dict,
    never one shared between rows). `tests/jobruns/test_fires.py` holds this to
    `JobRun()` field by field, and JobRun sends no init signals this skips.
    """
    values, made_per_row = _blank_fields()
    run = JobRun.__new__(JobRun)
    run.__dict__.update(values)
    run._state = ModelState()
    for attname, make in made_per_row:
        setattr(run, attname, make())
    return run


@functools.cache
def _blank_fields() -> tuple[dict[str, Any], tuple[tuple[str, Any], ...]]:
    """What `_blank_run` copies: a `JobRun()`'s values, and the callable defaults."""
    values = {k: v for k, v in JobRun().__dict__.items() if k != "_state"}
    made_per_row = tuple(
        (field.attname, field.default)
        for field in JobRun._meta.concrete_fields
        if field.has_default() and callable(field.default)
    )
    return values, made_per_row


# --- a dispatcher batch: rows built in memory, written in one statement -----------
def fire_validate(schedule: Schedule) -> None:
    """ValidationError when a fire of `schedule` cannot be queued (service gone...)."""
    _validate_request(schedule.target, [], _schedule_input(schedule))


def fire_queued(
    schedule: Schedule, scheduled_for: datetime, *, trigger: str, now: datetime
) -> JobRun:
    """The unsaved queued run of one fire, as `jobrun_enqueue` would make it."""
    run = _fire_row(schedule, scheduled_for, now=now)
    run.trigger = trigger
    run.sent_at = now
    run.celery_task_id = str(uuid.uuid4())
    run.exclusive = schedule.overlap_policy in EXCLUSIVE_POLICIES
    return run


def fire_skipped(
    schedule: Schedule,
    scheduled_for: datetime,
    *,
    reason: str,
    count: int,
    note: str,
    now: datetime,
) -> JobRun:
    """The unsaved row recording `count` fires from `scheduled_for` that do not run."""
    run = _fire_row(schedule, scheduled_for, now=now)
    _mark_skipped(run, reason=reason, count=count, now=now)
    run.log = note
    return run


def fire_refused(
    schedule: Schedule, scheduled_for: datetime, *, error: Exception, now: datetime
) -> JobRun:
    """The unsaved failed row of a fire that could not even be queued."""
    run = _fire_row(schedule, scheduled_for, now=now)
    run.status = Status.FAILED
    run.finished_at = now
    run.error = "; ".join(getattr(error, "messages", [str(error)]))
    return run


def fire_mark_overlap(run: JobRun, *, now: datetime) -> None:
    """The overlap policy refused this queued fire row: it becomes skipped."""
    _mark_skipped(run, reason=JobRun.SkipReason.OVERLAP, count=1, now=now)


def fire_mark_replaced(run: JobRun, *, now: datetime) -> None:
    """A newer fire of the same batch replaces this queued row (overlap replace)."""
    run.status = Status.CANCELLED
    run.finished_at = now
    run.error = "cancelled by replaced by a newer run"
    run.sent_at = None


def jobrun_insert_fires(*, runs: Sequence[JobRun], now: datetime) -> list[JobRun]:
    """Insert a dispatcher batch's fire rows; the ones inserted (queued ones sent).

    One `INSERT ... ON CONFLICT DO NOTHING RETURNING` per chunk of rows: a fire
    that already has its row (another dispatcher made it first, the
    UNIQUE(schedule, scheduled_for) constraint says so) is left out without
    aborting the batch, and without a savepoint per fire. Called inside the
    dispatcher's transaction; messages go after its commit, all on one producer.
    """
    inserted: list[JobRun] = []
    for chunk in _chunks(runs):
        inserted += _insert_ignoring_conflicts(chunk)
    contexts = [run for run in inserted if run.celery_task_id]
    if contexts:
        _add_input_contexts(contexts)
    queued = [run for run in inserted if run.status == Status.QUEUED]
    _send_many_on_commit(queued, now=now)
    return inserted


def _chunks(runs: Sequence[JobRun]) -> Iterable[Sequence[JobRun]]:
    from django.db import connection

    if connection.vendor == "postgresql":
        # The unnest INSERT carries one parameter per column, whatever the rows.
        if runs:
            yield runs
        return
    size = max(1, _max_params() // len(_insert_fields()))
    for start in range(0, len(runs), size):
        yield runs[start : start + size]


def _max_params() -> int:
    """Bind parameters one statement may carry on this database (SQLite)."""
    import sqlite3

    from django.db import connection

    # Django assumes SQLite's old limit of 999; the library says (32,766
    # since 3.32), and a batch of hundreds of fires then is one INSERT.
    connection.ensure_connection()
    return int(connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))


def _insert_fields() -> list[Any]:
    return [field for field in JobRun._meta.concrete_fields if not field.primary_key]


def _insert_ignoring_conflicts(runs: Sequence[JobRun]) -> list[JobRun]:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING id, schedule, scheduled_for.

    bulk_create(ignore_conflicts=True) returns no ids, and we need to know
    which fires got their row (and their ids, to send them). Both PostgreSQL
    and SQLite >= 3.35 support it.
    """
    from django.db import connection

    if connection.vendor == "postgresql":
        rows = _insert_unnest(runs)
    else:
        rows = _insert_compiled(runs)
    by_fire = {(run.schedule_id, run.scheduled_for): run for run in runs}
    inserted = []
    for pk, schedule_id, scheduled_for in rows:
        run = by_fire[(schedule_id, _aware(scheduled_for))]
        run.pk = pk
        run._state.adding = False
        run._state.db = connection.alias
        inserted.append(run)
    return inserted


def _insert_compiled(runs: Sequence[JobRun]) -> list[tuple[Any, ...]]:
    """The INSERT written by Django's own insert compiler (SQLite).

    One placeholder per value: fine for SQLite, where a laptop's batches are
    small; PostgreSQL takes `_insert_unnest`.
    """
    from django.db import connection
    from django.db.models import sql
    from django.db.models.constants import OnConflict

    query = sql.InsertQuery(JobRun, on_conflict=OnConflict.IGNORE)
    query.insert_values(_insert_fields(), list(runs))
    compiler = query.get_compiler(connection=connection)
    compiler.returning_fields = _returning_fields()
    [(statement, params)] = compiler.as_sql()
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall()


def _returning_fields() -> list[Any]:
    meta = JobRun._meta
    return [meta.pk, meta.get_field("schedule"), meta.get_field("scheduled_for")]


# Field types whose Python value psycopg adapts as Django would send it (Django's
# get_db_prep_save hands these through unchanged on PostgreSQL); any other field
# (JSON, file) is prepared by the field itself.
_SENT_AS_IS = {
    "BigIntegerField",
    "BooleanField",
    "CharField",
    "DateTimeField",
    "ForeignKey",
    "IntegerField",
    "PositiveIntegerField",
    "TextField",
}


def _insert_unnest(runs: Sequence[JobRun]) -> list[tuple[Any, ...]]:
    """The INSERT of a whole batch as `INSERT ... SELECT ... FROM unnest(arrays)`.

    By hand because Django can only write `VALUES (%s, ..., %s), (...)`: one
    placeholder per value, 31 per row, each prepared by its field in Python and
    parsed by PostgreSQL, which cost more than the rest of a dispatch together.
    Here a column whose value differs between rows is ONE array parameter and a
    column with the same value in every row (most: the defaults, the batch's
    `now`, the dispatcher's label) is ONE scalar; every column Django would
    write is written, with the value Django would write. ON CONFLICT DO NOTHING
    and RETURNING keep the contract of `_insert_compiled`: a fire that already
    has its row (UNIQUE(schedule, scheduled_for)) is left out, not an error.
    """
    from django.db import connection

    quote = connection.ops.quote_name
    columns: list[str] = []
    selected: list[str] = []
    arrays: list[tuple[str, str, list[Any]]] = []  # (column, placeholder, values)
    params: list[Any] = []
    for field in _insert_fields():
        values = _db_values(field, runs, connection)
        db_type = field.db_type(connection)
        columns.append(quote(field.column))
        if len(runs) == 1 or (len(set(values)) == 1 and arrays):
            # The same in every row (and not the first varying column: unnest
            # needs an array to make one row per run).
            selected.append(f"%s::{db_type}")
            params.append(values[0])
        else:
            selected.append(f"u.{quote(field.column)}")
            arrays.append((quote(field.column), f"%s::{db_type}[]", values))
    source = ""
    if arrays:
        names = ", ".join(name for name, _, _ in arrays)
        casts = ", ".join(cast for _, cast, _ in arrays)
        source = f" FROM unnest({casts}) AS u({names})"
    returning = ", ".join(quote(field.column) for field in _returning_fields())
    statement = (
        f"INSERT INTO {quote(JobRun._meta.db_table)} ({', '.join(columns)}) "
        f"SELECT {', '.join(selected)}{source} "
        f"ON CONFLICT DO NOTHING RETURNING {returning}"
    )
    # Scalars come first in the SELECT list, arrays after them in FROM.
    params += [values for _, _, values in arrays]
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall()


def _db_values(field: Any, runs: Sequence[JobRun], connection: Any) -> list[Any]:
    """The column's value for every run, as Django's insert would send it."""
    kind = field.get_internal_type()
    if kind in _SENT_AS_IS:
        return list(map(attrgetter(field.attname), runs))
    if kind == "JSONField":
        # As text, cast to jsonb by the statement: psycopg's Json wrapper (what
        # the field answers) is a new object per row, so no column of it would
        # ever look the same in every row. None is SQL NULL, as Django writes it.
        dumps = partial(json.dumps, cls=field.encoder)
        values = list(map(attrgetter(field.attname), runs))
        return [None if value is None else dumps(value) for value in values]
    return [
        field.get_db_prep_save(field.pre_save(run, True), connection) for run in runs
    ]


def _aware(value: datetime | str) -> datetime:
    """A returned datetime as Django reads it (SQLite answers naive UTC, or text)."""
    if isinstance(value, str):
        from django.utils.dateparse import parse_datetime

        parsed = parse_datetime(value)
        assert parsed is not None, value
        value = parsed
    return value if value.tzinfo else value.replace(tzinfo=UTC)
