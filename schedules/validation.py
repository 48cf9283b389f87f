"""One validation path for schedule definitions, used by every writer.

Services, the admin form, the APIs, the importer and the preview all call
`schedule_validate_definition`; it raises Django's `ValidationError` keyed by
field, with messages that say what is wrong and how to fix it (most come from
`schedules.timing`, which proves a cron expression by computing a fire).
"""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError

from core.codes import NAME_TAKEN
from core.text import nul_problem
from core.zones import civil_zone_names
from schedules import timing
from schedules.models import MAX_RETRIES, PRIORITY_MAX, Schedule

# What a caller may set. Bookkeeping (next_run_at, run_count, created_*...) is
# computed by services and never taken from input.
DEFINITION_FIELDS = frozenset(
    {
        "name", "description", "kind", "time_zone", "run_at",
        "interval_weeks", "interval_days", "interval_hours", "interval_minutes",
        "interval_seconds", "repeats", "cron_expression", "cron_dialect",
        "dst_gap", "dst_fold", "start_at", "end_at", "target", "input", "extra",
        "correlation_id", "priority", "overlap_policy", "max_parallel",
        "missed_policy", "catchup_window_seconds", "max_retries",
        "retry_delay_seconds", "time_limit_seconds", "keep_runs_days",
        "keep_runs_count",
    }
)  # fmt: skip
# Accepted beside the definition; services apply them after validation.
EXTRA_KEYS = frozenset({"tags", "is_paused", "paused_reason"})
TIMING_FIELDS = frozenset(
    {
        "kind", "time_zone", "run_at", "interval_weeks", "interval_days",
        "interval_hours", "interval_minutes", "interval_seconds", "repeats",
        "cron_expression", "cron_dialect", "dst_gap", "dst_fold", "start_at",
        "end_at",
    }
)  # fmt: skip
INTERVAL_PARTS = (
    "interval_weeks",
    "interval_days",
    "interval_hours",
    "interval_minutes",
    "interval_seconds",
)
_LOCAL_TIME_FIELDS = ("run_at", "start_at", "end_at")
# Without the jobruns registry we can only check the shape of a target name.
_TARGET_SHAPE = re.compile(r"^[A-Za-z0-9_][\w.:\-]*\Z")
_TAG_KEY_MAX = 100
_TAG_VALUE_MAX = 200

# Messages, or ValidationErrors where a caller needs the code (NAME_TAKEN).
Errors = dict[str, list[str | ValidationError]]


def schedule_validate_definition(
    *,
    data: Mapping[str, Any],
    now: datetime,
    schedule: Schedule | None = None,
    timing_only: bool = False,
    allow_past: bool = False,
) -> Schedule:
    """Return an unsaved copy of `schedule` (or a new one) with `data` applied.

    Raises ValidationError({field: [message]}). `timing_only` checks just what
    a preview needs; `allow_past` lets an importer restore finished schedules.
    """
    errors: Errors = {}
    _check_keys(data, errors)
    candidate = copy.copy(schedule) if schedule is not None else Schedule()
    if schedule is None:
        candidate.created_at = now
    for key, value in data.items():
        if key in DEFINITION_FIELDS:
            setattr(candidate, key, value)
    _clean_fields(candidate, errors, timing_only=timing_only)
    zone = _check_zone(candidate, errors)
    if zone is not None:
        for field in _LOCAL_TIME_FIELDS:
            _localize(candidate, field, zone, errors)
    _check_date_range(candidate, errors)
    _clear_other_kinds(candidate)
    _check_timing(candidate, data, errors, now=now, allow_past=allow_past)
    if not timing_only:
        _check_target(candidate, data, errors)
        _check_payload(candidate, errors)
        _check_name_free(candidate, errors)
        if "tags" in data:
            tags_from_input(data["tags"], errors)
    if errors:
        raise ValidationError(errors)
    return candidate


def tags_from_input(value: Any, errors: Errors | None = None) -> dict[str, str]:
    """Tags as {key: value} from a mapping or a list of {"key", "value"} items."""
    local: Errors = {} if errors is None else errors
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, list) and all(isinstance(item, Mapping) for item in value):
        pairs = [(item.get("key"), item.get("value", "")) for item in value]
    else:
        local.setdefault("tags", []).append(
            'tags must be an object like {"team": "billing"} or a list of '
            '{"key": ..., "value": ...} items'
        )
        pairs = []
    tags = {}
    for key, tag_value in pairs:
        problem = _tag_problem(key, tag_value)
        if problem:
            local.setdefault("tags", []).append(problem)
        else:
            tags[key.strip()] = "" if tag_value is None else str(tag_value)
    if errors is None and local:
        raise ValidationError(local)
    return tags


def _tag_problem(key: Any, value: Any) -> str | None:
    if not isinstance(key, str) or not key.strip():
        return f"every tag needs a non-empty text key, got {key!r}"
    nul = nul_problem(key, "a tag key") or nul_problem(value, f"tag {key!r}")
    if nul:
        return nul
    if len(key.strip()) > _TAG_KEY_MAX:
        return f"tag key {key[:20]!r}... is longer than {_TAG_KEY_MAX} characters"
    if value is not None and not isinstance(value, str | int | float | bool):
        return f"tag {key!r} needs a text value, got {type(value).__name__}"
    if value is not None and len(str(value)) > _TAG_VALUE_MAX:
        return f"tag {key!r} has a value longer than {_TAG_VALUE_MAX} characters"
    # PostgreSQL cannot store U+0000 in text: a field error, not a 500.
    return nul_problem(key, "a tag key") or nul_problem(
        str(value or ""), f"tag {key!r}"
    )


def _check_keys(data: Mapping[str, Any], errors: Errors) -> None:
    if not isinstance(data, Mapping):
        raise ValidationError({"__all__": ["a schedule definition must be an object"]})
    for key in data:
        if key not in DEFINITION_FIELDS and key not in EXTRA_KEYS:
            errors.setdefault(str(key), []).append(
                f"unknown field {key!r}; see the Schedule fields in the docs"
            )


def _clean_fields(candidate: Schedule, errors: Errors, *, timing_only: bool) -> None:
    """Django's per-field checks (types, choices, lengths, the name pattern)."""
    exclude = {f.name for f in Schedule._meta.fields} - DEFINITION_FIELDS
    if timing_only:
        exclude |= DEFINITION_FIELDS - TIMING_FIELDS
    try:
        candidate.clean_fields(exclude=exclude)
    except ValidationError as error:
        for field, messages in error.message_dict.items():
            errors.setdefault(field, []).extend(messages)


def _check_zone(candidate: Schedule, errors: Errors) -> ZoneInfo | None:
    if "time_zone" in errors:
        return None
    try:
        return timing.load_zone(candidate.time_zone)
    except timing.TimingError as error:
        errors.setdefault("time_zone", []).append(
            error.message + _zone_hint(candidate.time_zone)
        )
        return None


@cache
def _zone_names() -> tuple[str, ...]:
    return tuple(sorted(civil_zone_names()))


def _zone_hint(name: object) -> str:
    if not isinstance(name, str):
        return ""
    close = difflib.get_close_matches(name, _zone_names(), n=1, cutoff=0.8)
    return f"; did you mean {close[0]!r}?" if close else ""


def _localize(candidate: Schedule, field: str, zone: ZoneInfo, errors: Errors) -> None:
    """A naive time is a wall-clock time in the schedule's zone.

    Decision: a naive time inside a spring-forward gap is refused rather than
    shifted, because the caller named a time that does not exist and a silent
    shift would fire at a time nobody wrote. A time in a fall-back fold means
    its first occurrence (fold=0); give an explicit offset for the second.
    """
    value = getattr(candidate, field)
    if not isinstance(value, datetime) or value.tzinfo is not None:
        return
    aware = value.replace(tzinfo=zone, fold=0)
    round_trip = aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    if round_trip != value:
        before = _offset_text(value.replace(tzinfo=zone, fold=0))
        after = _offset_text(value.replace(tzinfo=zone, fold=1))
        errors.setdefault(field, []).append(
            f"{value:%Y-%m-%d %H:%M} does not exist in {zone.key}: the clocks jump "
            f"forward that night (UTC{before} to UTC{after}); pick a time outside "
            "the gap or give the instant with an explicit UTC offset"
        )
        return
    # Converted at once: an aware time inside a fold never compares equal to
    # an instant in another zone (PEP 495), so keep only the UTC instant.
    setattr(candidate, field, aware.astimezone(UTC))


# Timing arithmetic steps around each bound; keep clear of datetime's limits.
_EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
_LATEST = datetime(9999, 12, 30, tzinfo=UTC)


def _check_date_range(candidate: Schedule, errors: Errors) -> None:
    for field in _LOCAL_TIME_FIELDS:
        value = getattr(candidate, field)
        aware = isinstance(value, datetime) and value.tzinfo is not None
        if aware and not _EARLIEST <= value <= _LATEST:
            errors.setdefault(field, []).append(
                f"{field} must be between 1900-01-01 and 9999-12-30"
            )


def _offset_text(value: datetime) -> str:
    return value.strftime("%z")[:3] + ":" + value.strftime("%z")[3:]


def _clear_other_kinds(candidate: Schedule) -> None:
    """Fields of the kinds not chosen are cleared, so a stale value (a hidden
    admin fieldset, a kind change in a partial update) cannot linger."""
    kind = candidate.kind
    if kind != Schedule.Kind.ONE_TIME:
        candidate.run_at = None
    if kind != Schedule.Kind.INTERVAL:
        for part in INTERVAL_PARTS:
            setattr(candidate, part, 0)
        candidate.repeats = None
    if kind != Schedule.Kind.CRON:
        candidate.cron_expression = ""
        candidate.cron_dialect = ""
        candidate.dst_gap = ""
        candidate.dst_fold = ""


def _check_timing(
    candidate: Schedule,
    data: Mapping[str, Any],
    errors: Errors,
    *,
    now: datetime,
    allow_past: bool,
) -> None:
    if any(field in errors for field in TIMING_FIELDS):
        # The trigger cannot be built from fields already known bad, but a cron
        # expression can still be checked on its own, so both mistakes show.
        own = ("cron_expression", "cron_dialect")
        if candidate.kind == Schedule.Kind.CRON and not any(f in errors for f in own):
            _check_cron_alone(candidate, errors)
        return
    if candidate.kind == Schedule.Kind.CRON:
        _detect_dialect(candidate, data)
    try:
        candidate.trigger()
    except timing.TimingError as error:
        errors.setdefault(error.field, []).append(error.message)
        return
    _check_bounds(candidate, data, errors, now=now, allow_past=allow_past)


def _check_cron_alone(candidate: Schedule, errors: Errors) -> None:
    try:
        dialect = candidate.cron_dialect
        timing.CronExpression.parse(
            candidate.cron_expression, timing.Dialect(dialect) if dialect else None
        )
    except (timing.TimingError, ValueError) as error:
        field = getattr(error, "field", "cron_expression")
        message = getattr(error, "message", str(error))
        errors.setdefault(field, []).append(message)


def _detect_dialect(candidate: Schedule, data: Mapping[str, Any]) -> None:
    """The dialect is recorded from detection unless the caller named one."""
    if "cron_expression" in data and not data.get("cron_dialect"):
        candidate.cron_dialect = ""
    if candidate.cron_expression.isascii():
        # Only ASCII spaces are tidied: another script's space is left for the
        # parser to refuse by name, not silently turned into a field separator.
        candidate.cron_expression = " ".join(candidate.cron_expression.split())
    if not candidate.cron_dialect:
        try:
            parsed = timing.CronExpression.parse(candidate.cron_expression)
        except timing.TimingError:
            return  # reported by trigger() with the same message
        candidate.cron_dialect = parsed.dialect.value


def _check_bounds(
    candidate: Schedule,
    data: Mapping[str, Any],
    errors: Errors,
    *,
    now: datetime,
    allow_past: bool,
) -> None:
    start, end = candidate.start_at, candidate.end_at
    if start is not None and end is not None and end <= start:
        errors.setdefault("end_at", []).append(
            f"end_at ({end.isoformat()}) must be after start_at ({start.isoformat()})"
        )
        return
    if "end_at" in data and end is not None and end <= now and not allow_past:
        errors.setdefault("end_at", []).append(
            f"end_at ({end.isoformat()}) is in the past, so the schedule would "
            "never fire; leave it empty or move it later"
        )
    if candidate.kind == Schedule.Kind.ONE_TIME:
        _check_run_at(candidate, data, errors, now=now, allow_past=allow_past)


def _check_run_at(
    candidate: Schedule,
    data: Mapping[str, Any],
    errors: Errors,
    *,
    now: datetime,
    allow_past: bool,
) -> None:
    run_at = candidate.run_at
    assert run_at is not None  # trigger() refused a one-time schedule without it
    if "run_at" in data and run_at <= now and not allow_past:
        errors.setdefault("run_at", []).append(
            f"run_at ({run_at.isoformat()}) is not in the future (now is "
            f"{now.isoformat()}); a one-time schedule must run later than now"
        )
    outside_start = candidate.start_at is not None and run_at < candidate.start_at
    outside_end = candidate.end_at is not None and run_at > candidate.end_at
    if outside_start or outside_end:
        errors.setdefault("run_at", []).append(
            "run_at lies outside start_at..end_at, so the schedule would never "
            "fire; move run_at or the bounds"
        )


def _check_target(candidate: Schedule, data: Mapping[str, Any], errors: Errors) -> None:
    if "target" in errors:
        return
    target = candidate.target.strip()
    if not target:
        errors.setdefault("target", []).append(
            "name the service or component action to run, e.g. 'reports.nightly'"
        )
        return
    exists = service_exists(target)
    if exists is None:
        if not _TARGET_SHAPE.match(target):
            errors.setdefault("target", []).append(
                f"{target!r} is not a service name: use letters, digits and "
                "'_', '.', ':' or '-', e.g. 'reports.nightly'"
            )
        return
    if not exists:
        errors.setdefault("target", []).append(
            f"no service or component action is registered as {target!r}"
            + _known_services_hint(target)
        )
        return
    # A new schedule, or an edit that touches what runs: its input must pass
    # the target's input_schema now, or every fire would fail "refused". An
    # edit of something else (a description) does not trip over a row saved
    # before this check existed.
    touched = candidate.pk is None or bool({"target", "input"} & set(data))
    if touched and "input" not in errors and isinstance(candidate.input, dict):
        problem = target_input_problem(target, candidate.input)
        if problem:
            errors.setdefault("input", []).append(
                f"the input does not fit {target}'s input schema: {problem}"
            )


# --- what targets exist: asked of the app that runs them ------------------------------
@dataclass(frozen=True)
class TargetValidator:
    """What the app that runs targets knows about them.

    Schedules sit below jobruns (jobruns imports schedules, never the other
    way round), yet saving a schedule must know whether its target exists and
    whether its input fits the target's schema. So jobruns hands these in at
    `AppConfig.ready()` through `register_target_validator`, as it does with
    `register_run_input_context`; without it (schedules used alone) any
    well-formed name is accepted and the run reports "unknown service".
    """

    exists: Callable[[str], bool]
    input_problem: Callable[[str, dict[str, Any]], str | None]
    catalogue: Callable[[], list[dict[str, Any]]]


_target_validator: TargetValidator | None = None


def register_target_validator(validator: TargetValidator) -> None:
    global _target_validator
    _target_validator = validator


def service_exists(name: str) -> bool | None:
    """Whether a target is registered; None when no app told us (see above)."""
    if _target_validator is None:
        return None
    return _target_validator.exists(name)


def target_input_problem(name: str, payload: dict[str, Any]) -> str | None:
    """Why `payload` does not fit the target's input schema, or None."""
    if _target_validator is None:
        return None
    return _target_validator.input_problem(name, payload)


def target_catalogue() -> list[dict[str, Any]]:
    """Every target a schedule may name: name, description, input_schema, fields."""
    if _target_validator is None:
        return []
    return _target_validator.catalogue()


def _known_services_hint(name: str) -> str:
    names = [str(row.get("name", "")) for row in target_catalogue()]
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    return f"; did you mean {', '.join(map(repr, close))}?" if close else ""


def _check_payload(candidate: Schedule, errors: Errors) -> None:
    if "input" not in errors and not isinstance(candidate.input, dict):
        errors.setdefault("input", []).append(
            'input must be a JSON object such as {"report": "daily"}, got '
            f"{type(candidate.input).__name__}"
        )
    for field in ("input", "extra", "description", "correlation_id"):
        problem = nul_problem(getattr(candidate, field), field)
        if problem and field not in errors:
            errors.setdefault(field, []).append(problem)
    priority = candidate.priority
    if (
        "priority" not in errors
        and isinstance(priority, int)
        and not 0 <= priority <= PRIORITY_MAX
    ):
        errors.setdefault("priority", []).append(
            f"priority must be between 0 and {PRIORITY_MAX}, got {priority}"
        )
    retries = candidate.max_retries
    if (
        "max_retries" not in errors
        and isinstance(retries, int)
        and retries > MAX_RETRIES
    ):
        errors.setdefault("max_retries", []).append(
            f"max_retries must be at most {MAX_RETRIES}, got {retries}"
        )
    if candidate.max_parallel is not None and (
        candidate.overlap_policy != Schedule.OverlapPolicy.ALLOW
    ):
        candidate.max_parallel = None  # only meaningful when parallel runs are allowed
    if candidate.max_parallel == 0:
        errors.setdefault("max_parallel", []).append(
            "max_parallel must be at least 1, or empty for no limit"
        )


def _check_name_free(candidate: Schedule, errors: Errors) -> None:
    if "name" in errors or not candidate.name:
        return
    taken = Schedule.objects.filter(name=candidate.name)
    if candidate.pk is not None:
        taken = taken.exclude(pk=candidate.pk)
    if taken.exists():
        errors.setdefault("name", []).append(
            ValidationError(
                f"a schedule named {candidate.name!r} already exists; choose "
                "another name or edit that schedule",
                code=NAME_TAKEN,
            )
        )
