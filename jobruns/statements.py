"""The run path's two hot statements, written by hand and compiled once.

A worker claims and finishes every run: through the ORM each statement cost
more Python (query building, compiling, per-column converter lookup) than the
database spent on it. The SQL text here is built once per process from the
model's own metadata; values are adapted by the model's fields, rows are read
back with Django's converters, so nothing differs from what `update()` writes.

PostgreSQL only for the combined statements (data-modifying CTEs); the claim
alone is also plain SQLite >= 3.35 (UPDATE ... RETURNING).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import connection

from jobruns.models import JobRun

Status = JobRun.Status

# What a finish writes besides status and finished_at, in the order of finish_set.
OUTCOME_FIELDS = ("output", "log", "error", "traceback", "result_file")


class _Sql:
    """Names and texts that depend only on the model and the database vendor."""

    def __init__(self) -> None:
        meta = JobRun._meta
        quote = connection.ops.quote_name
        self.table = quote(meta.db_table)
        self.fields = list(meta.concrete_fields)
        self.attnames = [field.attname for field in self.fields]
        self.columns = ", ".join(f"{self.table}.{quote(f.column)}" for f in self.fields)
        self.claim_set = "status = %s, started_at = %s, heartbeat_at = %s, worker = %s"
        by_name = {field.name: field for field in self.fields}
        outcome = ", ".join(f"{quote(by_name[n].column)} = %s" for n in OUTCOME_FIELDS)
        self.finish_set = f"status = %s, finished_at = %s, {outcome}"
        self.prep = {f.attname: f for f in self.fields}


@functools.cache
def _sql(vendor: str) -> _Sql:
    return _Sql()


def _names() -> _Sql:
    return _sql(connection.vendor)


def _prep(name: str, value: Any) -> Any:
    field = _names().prep[name]
    return field.get_db_prep_save(value, connection)  # type: ignore[no-untyped-call]


def claim_sql(*, with_task_id: bool) -> str:
    names = _names()
    task = ", celery_task_id = %s" if with_task_id else ""
    return (
        f"UPDATE {names.table} SET {names.claim_set}{task} "  # noqa: S608 (our names)
        f"WHERE id = %s AND status = %s RETURNING {names.columns}"
    )


def claim_params(
    *, run_id: int, worker: str, now: datetime, task_id: str | None
) -> list[Any]:
    at = _prep("started_at", now)
    params: list[Any] = [Status.IN_PROGRESS, at, at, worker]
    if task_id:
        params.append(task_id)
    return [*params, run_id, Status.QUEUED]


def finish_params(
    *, status: str, now: datetime, outcome: Mapping[str, Any]
) -> list[Any]:
    values = [_prep(name, outcome.get(name, "")) for name in OUTCOME_FIELDS]
    return [status, _prep("finished_at", now), *values]


def claim(
    *, run_id: int, worker: str, now: datetime, task_id: str | None
) -> JobRun | None:
    """UPDATE ... SET in_progress WHERE queued RETURNING the row; None if not queued."""
    params = claim_params(run_id=run_id, worker=worker, now=now, task_id=task_id)
    with connection.cursor() as cursor:
        cursor.execute(claim_sql(with_task_id=bool(task_id)), params)
        row = cursor.fetchone()
    return None if row is None else from_row(row)


def finish_counted(
    *,
    run_id: int,
    status: str,
    now: datetime,
    outcome: Mapping[str, Any],
    count_end: Callable[[str], str],
    then: tuple[int, str, str | None] | None = None,
) -> tuple[bool, JobRun | None]:
    """End an in_progress run nobody waits for, count it, claim the next one.

    ONE statement (so one commit, in autocommit): the finish, the schedule's
    run-end counters (`count_end`: the schedules app's UPDATE reading the CTE
    `ended`) and, with `then` (run id, worker, task id; claimed at `now`), the claim
    of the message's next run, made only if the finish was: a cancelled run
    ends its message, whose next run must stay queued. All or nothing: an
    error (say, the next run's exclusive slot taken) leaves both undone.
    Answers (finished, the claimed next run or None).
    """
    names = _names()
    params = finish_params(status=status, now=now, outcome=outcome)
    sql = (
        f"WITH ended AS (UPDATE {names.table} SET {names.finish_set} "  # noqa: S608
        "WHERE id = %s AND status = %s AND NOT has_waiter "
        "RETURNING schedule_id, started_at), "
        f"counted AS ({count_end('ended')})"
    )
    params += [run_id, Status.IN_PROGRESS]
    if then is None:
        sql += " SELECT count(*) FROM ended"
    else:
        next_id, worker, task_id = then
        task = ", celery_task_id = %s" if task_id else ""
        sql += (
            f", claimed AS (UPDATE {names.table} SET {names.claim_set}{task} "  # noqa: S608
            "WHERE id = %s AND status = %s AND EXISTS (SELECT FROM ended) "
            f"RETURNING {names.columns}) "
            "SELECT e.n, c.* FROM (SELECT count(*) AS n FROM ended) e "
            "LEFT JOIN claimed c ON true"
        )
        params += claim_params(run_id=next_id, worker=worker, now=now, task_id=task_id)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    assert row is not None
    claimed = row[1:]
    if not claimed or claimed[0] is None:
        return bool(row[0]), None
    return bool(row[0]), from_row(claimed)


def from_row(row: Sequence[Any]) -> JobRun:
    """A JobRun from its columns in model order, through Django's converters."""
    names = _names()
    values = [
        value if value is None or not converters else _convert(value, converters, expr)
        for value, (converters, expr) in zip(row, _converters(), strict=True)
    ]
    return JobRun.from_db(connection.alias, names.attnames, values)


def _convert(value: Any, converters: list[Any], expression: Any) -> Any:
    for converter in converters:
        value = converter(value, expression, connection)
    return value


def _converters() -> list[tuple[list[Any], Any]]:
    return _converters_for(connection.vendor)


@functools.cache
def _converters_for(vendor: str) -> list[tuple[list[Any], Any]]:
    """Per column, Django's read converters (backend's, then field's), once."""
    table = JobRun._meta.db_table
    found = []
    for field in _names().fields:
        column = field.get_col(table)
        converters = list(connection.ops.get_db_converters(column))
        # Field.get_db_converters is Django's; django-stubs does not list it.
        converters += field.get_db_converters(connection)  # type: ignore[attr-defined]
        found.append((converters, column))
    return found
