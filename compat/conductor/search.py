"""The `search/executions` query and sort grammar, parsed without Django.

Conductor's grammar (OSS `SchedulerSearchQuery`): clauses joined by ` AND `:
`scheduleName IN (a,b)`, `state IN (EXECUTED,FAILED)`, `scheduledTime>N`,
`scheduledTime<N`, `workflowName=x` (case-insensitive substring),
`executionId=x`; any other bare clause is a literal schedule name. We are also
lenient with the SDK docs' variant (`scheduleName='x' AND status='COMPLETED'`,
`sort=startTime:DESC`): quotes are stripped, `=` works like a one-item IN,
`status` accepts workflow statuses, and unknown fields are ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from compat.conductor.services import from_ms

WIRE_STATES = ("POLLED", "EXECUTED", "FAILED")
# Workflow statuses a client may write as `status=...` -> the execution state.
_WORKFLOW_STATUSES = {
    "RUNNING": "EXECUTED",
    "COMPLETED": "EXECUTED",
    "PAUSED": "EXECUTED",
    "FAILED": "FAILED",
    "TIMED_OUT": "FAILED",
    "TERMINATED": "FAILED",
}
SORT_FIELDS = {
    "scheduledtime": "scheduledTime",
    "executiontime": "executionTime",
    "starttime": "executionTime",
    "schedulename": "scheduleName",
    "workflowname": "workflowName",
    "state": "state",
    "status": "state",
}
_AND = re.compile(r"\s+AND\s+", re.IGNORECASE)
_IN = re.compile(r"^(\w+)\s+IN\s*\((.*)\)$", re.IGNORECASE | re.DOTALL)
_COMPARE = re.compile(r"^(\w+)\s*(>=|<=|!=|=|>|<)\s*(.*)$", re.DOTALL)


class QueryError(ValueError):
    """A clause we understand with a wrong value (a time that is no number)."""


@dataclass
class ExecutionQuery:
    schedule_names: set[str] | None = None
    states: set[str] | None = None
    workflow_name: str | None = None
    execution_ids: set[str] | None = None
    # (field, operator, epoch ms) for scheduledTime / executionTime bounds.
    times: list[tuple[str, str, int]] = field(default_factory=list)


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def _values(text: str) -> set[str]:
    return {_unquote(part) for part in text.split(",") if _unquote(part)}


def _narrow(current: set[str] | None, values: set[str]) -> set[str]:
    # Two clauses on one field are both required (AND): intersect.
    return values if current is None else current & values


def _states(field_name: str, values: set[str]) -> set[str]:
    states = set()
    for value in (v.upper() for v in values):
        if value in WIRE_STATES:
            states.add(value)
        elif field_name == "status" and value in _WORKFLOW_STATUSES:
            states.add(_WORKFLOW_STATUSES[value])
    return states


def _apply(query: ExecutionQuery, name: str, op: str, values: set[str]) -> None:
    key = name.lower()
    if key == "schedulename" and op in {"=", "IN"}:
        query.schedule_names = _narrow(query.schedule_names, values)
    elif key in {"state", "status"} and op in {"=", "IN"}:
        query.states = _narrow(query.states, _states(key, values))
    elif key == "workflowname" and op in {"=", "IN"} and values:
        query.workflow_name = next(iter(sorted(values)))
    elif key == "executionid" and op in {"=", "IN"}:
        query.execution_ids = _narrow(query.execution_ids, values)
    elif key in {"scheduledtime", "executiontime", "starttime"} and op != "!=":
        field_name = SORT_FIELDS[key]
        for value in values:
            try:
                from_ms(int(value))  # in range, or ValueError
                query.times.append((field_name, op, int(value)))
            except ValueError:
                raise QueryError(
                    f"{name} needs epoch milliseconds, e.g. {name}>1700000000000; "
                    f"got {value!r}"
                ) from None
    # Anything else (unknown fields, other operators) is ignored: lenient.


def parse_query(text: str | None) -> ExecutionQuery:
    """Parse the `query` parameter; QueryError for a malformed time value."""
    query = ExecutionQuery()
    for raw in _AND.split((text or "").strip()):
        clause = raw.strip()
        if not clause or clause == "*":
            continue
        if match := _IN.match(clause):
            _apply(query, match[1], "IN", _values(match[2]))
        elif match := _COMPARE.match(clause):
            _apply(query, match[1], match[2], {_unquote(match[3])})
        else:
            query.schedule_names = _narrow(query.schedule_names, {_unquote(clause)})
    return query


def parse_sort(text: str | None) -> list[tuple[str, bool]]:
    """`field:ASC|DESC,...` -> [(wire field, descending)]; DESC by default."""
    order = []
    for part in (text or "").split(","):
        name, _, direction = part.strip().partition(":")
        wire = SORT_FIELDS.get(name.strip().lower())
        if wire is not None:
            order.append((wire, direction.strip().upper() != "ASC"))
    return order or [("scheduledTime", True)]
