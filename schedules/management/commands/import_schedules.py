"""Create or update schedules by name from JSON or YAML, all or nothing."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from core.audit import AuditedCommand
from core.commands import BAD_INPUT
from schedules.models import Schedule
from schedules.services import schedule_create, schedule_update
from schedules.transfer import FORMATS, first_error, format_for, load, record_diff
from schedules.validation import schedule_validate_definition


class Command(AuditedCommand):
    help = (
        "Upsert schedules by name from JSON or YAML in one transaction; a bad "
        "record aborts the whole import (exit code 2). --dry-run shows the diff."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="file, or - for stdin")
        parser.add_argument(
            "--format",
            dest="fmt",
            choices=FORMATS,
            help="default: by extension, else json",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="show what would change; write nothing",
        )

    def handle(
        self, *args: Any, path: str, fmt: str | None, dry_run: bool, **options: Any
    ) -> None:
        records = self._read(path, format_for(path, fmt))
        now = timezone.now()
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        with transaction.atomic():
            for index, record in enumerate(records, start=1):
                counts[self._upsert(index, record, now=now)] += 1
            if dry_run:
                # The same code path as a real import, then nothing kept.
                transaction.set_rollback(True)
        summary = ", ".join(f"{count} {state}" for state, count in counts.items())
        suffix = " (dry run: nothing written)" if dry_run else ""
        self.stdout.write(f"{summary}{suffix}")

    def _read(self, path: str, fmt: str) -> list[dict[str, Any]]:
        try:
            text = (
                sys.stdin.read()
                if path == "-"
                else Path(path).read_text(encoding="utf-8")
            )
            records = load(text, fmt)
        except (OSError, ValueError) as error:
            raise CommandError(
                f"cannot import {path}: {error}", returncode=BAD_INPUT
            ) from None
        names = [record.get("name") for record in records]
        repeated = sorted({str(n) for n in names if names.count(n) > 1})
        if repeated:
            raise CommandError(
                f"cannot import {path}: the name {repeated[0]!r} appears more "
                "than once",
                returncode=BAD_INPUT,
            )
        return records

    def _upsert(self, index: int, record: dict[str, Any], *, now: datetime) -> str:
        name = record.get("name")
        if not isinstance(name, str) or not name:
            raise CommandError(
                f"record {index} has no name; every schedule needs one",
                returncode=BAD_INPUT,
            )
        existing = Schedule.objects.filter(name=name).first()
        try:
            if existing is None:
                # allow_past: an exported finished one-time schedule must come back.
                schedule_create(data=record, by=None, now=now, allow_past=True)
                self._show("+", name, None)
                return "created"
            candidate = schedule_validate_definition(
                data=record, now=now, schedule=existing, allow_past=True
            )
            diff = record_diff(existing, record, candidate)
            if not diff:
                self._show("=", name, {})
                return "unchanged"
            schedule_update(
                schedule=existing, data=record, by=None, now=now, allow_past=True
            )
        except ValidationError as error:
            field, message = first_error(error)
            raise CommandError(
                f"schedule {name!r} (record {index}) has a bad {field}: "
                f"{message}; nothing was imported",
                returncode=BAD_INPUT,
            ) from None
        self._show("~", name, diff)
        return "updated"

    def _show(
        self, mark: str, name: str, diff: dict[str, tuple[Any, Any]] | None
    ) -> None:
        label = {"+": "create", "~": "update", "=": "unchanged"}[mark]
        self.stdout.write(f"{mark} {name} ({label})")
        for field, (old, new) in (diff or {}).items():
            self.stdout.write(f"    {field}: {old!r} -> {new!r}")
