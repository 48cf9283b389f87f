"""Schedules as plain records, for the export and import commands.

A record is a schedule's definition (only the fields of its kind), its tags and
its pause state; bookkeeping (next run, run count, who and when) stays behind,
since it belongs to the database the schedule runs in.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import yaml
from django.core.exceptions import ValidationError

from core import jsondepth
from schedules.models import Schedule
from schedules.validation import INTERVAL_PARTS, tags_from_input

FORMATS = ("json", "yaml")
_KIND_FIELDS = {
    Schedule.Kind.ONE_TIME: ("run_at",),
    Schedule.Kind.INTERVAL: (*INTERVAL_PARTS, "repeats"),
    Schedule.Kind.CRON: ("cron_expression", "cron_dialect", "dst_gap", "dst_fold"),
}
_COMMON_FIELDS = (
    "name", "description", "kind", "time_zone", "start_at", "end_at", "target",
    "input", "extra", "correlation_id", "priority", "overlap_policy",
    "max_parallel", "missed_policy", "catchup_window_seconds", "max_retries",
    "retry_delay_seconds", "time_limit_seconds", "keep_runs_days",
    "keep_runs_count",
)  # fmt: skip


def schedule_record(schedule: Schedule) -> dict[str, Any]:
    """The portable form of one schedule (datetimes as ISO 8601 in UTC)."""
    names = (*_COMMON_FIELDS[:4], *_KIND_FIELDS[Schedule.Kind(schedule.kind)])
    record = {name: _plain(getattr(schedule, name)) for name in names}
    record.update(
        {name: _plain(getattr(schedule, name)) for name in _COMMON_FIELDS[4:]}
    )
    record["tags"] = {tag.key: tag.value for tag in schedule.tags.all()}
    record["is_paused"] = schedule.is_paused
    if schedule.is_paused:
        record["paused_reason"] = schedule.paused_reason
    return record


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def dump(records: Iterable[dict[str, Any]], fmt: str) -> str:
    items = list(records)
    if fmt == "yaml":
        return yaml.safe_dump(items, sort_keys=False, allow_unicode=True)
    return json.dumps(items, indent=2, ensure_ascii=False) + "\n"


def load(text: str, fmt: str) -> list[dict[str, Any]]:
    """Parse a file of records; ValueError with a sentence when it is not one."""
    try:
        data = yaml.safe_load(text) if fmt == "yaml" else jsondepth.loads(text)
        jsondepth.check_depth(data)
    except jsondepth.TooDeep as error:
        raise ValueError(f"the file is not accepted: {error}") from None
    except RecursionError:  # PyYAML composes nested nodes recursively
        raise ValueError(jsondepth.too_deep_message()) from None
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise ValueError(f"the file is not valid {fmt.upper()}: {error}") from None
    if isinstance(data, dict) and "schedules" in data:
        data = data["schedules"]
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise ValueError("the file must hold a list of schedule objects")
    return data


def format_for(path: str, requested: str | None) -> str:
    if requested:
        return requested
    if path.endswith((".yaml", ".yml")):
        return "yaml"
    return "json"


def record_diff(
    schedule: Schedule, record: dict[str, Any], candidate: Schedule
) -> dict[str, tuple[Any, Any]]:
    """Field -> (old, new) for what importing `record` would change."""
    diff: dict[str, tuple[Any, Any]] = {}
    for name in record:
        if name in ("tags", "is_paused", "paused_reason"):
            continue
        old, new = getattr(schedule, name), getattr(candidate, name)
        if old != new:
            diff[name] = (_plain(old), _plain(new))
    if "tags" in record:
        old_tags = {tag.key: tag.value for tag in schedule.tags.all()}
        new_tags = tags_from_input(record["tags"] or {})
        if old_tags != new_tags:
            diff["tags"] = (old_tags, new_tags)
    if "is_paused" in record and bool(record["is_paused"]) != schedule.is_paused:
        diff["is_paused"] = (schedule.is_paused, bool(record["is_paused"]))
    return diff


def first_error(error: ValidationError) -> tuple[str, str]:
    """(field, message) of the first problem, for a one-sentence report."""
    if hasattr(error, "error_dict"):
        field, messages = next(iter(error.message_dict.items()))
        return field, messages[0]
    return "__all__", error.messages[0]
