"""export_schedules / import_schedules: round trip, upsert, dry run, bad files."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from schedules.models import Schedule

pytestmark = pytest.mark.django_db
Make = Callable[..., Schedule]


def _run(name: str, *args: str) -> str:
    out = io.StringIO()
    call_command(name, *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def _three_kinds(make_schedule: Make) -> None:
    now = timezone.now()
    make_schedule(at=now, tags={"team": "billing"}, input={"report": "daily"})
    make_schedule(
        at=now,
        name="every-90-min",
        kind="interval",
        cron_expression="",
        interval_hours=1,
        interval_minutes=30,
        repeats=4,
        extra="raw text\nkept as is",
    )
    make_schedule(
        at=now,
        name="once",
        kind="one_time",
        cron_expression="",
        run_at="2099-01-01T09:00",
        is_paused=True,
        paused_reason="waiting",
    )


def _snapshot() -> list[dict[str, Any]]:
    from schedules.transfer import schedule_record

    return [schedule_record(s) for s in Schedule.objects.order_by("name")]


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_export_then_import_into_an_empty_database_restores_every_schedule(
    make_schedule: Make, tmp_path: Path, suffix: str
) -> None:
    _three_kinds(make_schedule)
    before = _snapshot()
    path = tmp_path / f"schedules{suffix}"
    _run("export_schedules", str(path))
    Schedule.objects.all().delete()
    output = _run("import_schedules", str(path))
    assert output.strip().endswith("3 created, 0 updated, 0 unchanged")
    assert _snapshot() == before
    again = _run("import_schedules", str(path))
    assert again.strip().endswith("0 created, 0 updated, 3 unchanged")


def test_export_to_stdout_in_yaml_lists_the_kind_fields_only(
    make_schedule: Make,
) -> None:
    _three_kinds(make_schedule)
    records = yaml.safe_load(_run("export_schedules", "-", "--format", "yaml"))
    by_name = {record["name"]: record for record in records}
    assert "interval_hours" not in by_name["nightly-report"]
    assert by_name["every-90-min"]["extra"] == "raw text\nkept as is"
    assert by_name["once"]["run_at"] == "2099-01-01T08:00:00+00:00"
    assert by_name["nightly-report"]["tags"] == {"team": "billing"}


def test_import_updates_by_name_and_prints_the_field_diff(
    make_schedule: Make, tmp_path: Path
) -> None:
    make_schedule(at=timezone.now())
    path = tmp_path / "in.json"
    record = {"name": "nightly-report", "cron_expression": "0 3 * * *", "priority": 7}
    path.write_text(json.dumps([record]))
    output = _run("import_schedules", str(path))
    assert "~ nightly-report (update)" in output
    assert "cron_expression: '30 2 * * *' -> '0 3 * * *'" in output
    assert "priority: 0 -> 7" in output
    schedule = Schedule.objects.get()
    assert (schedule.cron_expression, schedule.priority) == ("0 3 * * *", 7)


def test_dry_run_shows_the_diff_and_writes_nothing(
    make_schedule: Make, tmp_path: Path
) -> None:
    make_schedule(at=timezone.now())
    path = tmp_path / "in.yaml"
    path.write_text(
        yaml.safe_dump(
            [
                {"name": "nightly-report", "description": "changed"},
                {
                    "name": "brand-new",
                    "kind": "interval",
                    "interval_minutes": 5,
                    "target": "demo.echo",
                },
            ]
        )
    )
    output = _run("import_schedules", str(path), "--dry-run")
    assert "description: '' -> 'changed'" in output
    assert "+ brand-new (create)" in output
    assert output.strip().endswith("(dry run: nothing written)")
    assert list(Schedule.objects.values_list("name", "description")) == [
        ("nightly-report", "")
    ]


def test_a_bad_record_aborts_the_whole_import_with_exit_code_2(
    tmp_path: Path,
) -> None:
    path = tmp_path / "in.json"
    good = {"name": "good", "kind": "cron", "cron_expression": "@daily"}
    good["target"] = "demo.echo"
    bad = {**good, "name": "bad", "cron_expression": "0 0 30 2 *"}
    path.write_text(json.dumps([good, bad]))
    with pytest.raises(CommandError) as caught:
        _run("import_schedules", str(path))
    assert caught.value.returncode == 2
    assert str(caught.value) == (
        "schedule 'bad' (record 2) has a bad cron_expression: this expression "
        "never fires (30 February); nothing was imported"
    )
    assert not Schedule.objects.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON"),
        ('{"name": "x"}', "must hold a list of schedule objects"),
        ('[{"kind": "cron"}]', "record 1 has no name"),
        ('[{"name": "a"}, {"name": "a"}]', "appears more than once"),
    ],
)
def test_a_malformed_file_exits_2_with_a_sentence(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "in.json"
    path.write_text(content)
    with pytest.raises(CommandError, match=message) as caught:
        _run("import_schedules", str(path))
    assert caught.value.returncode == 2


def test_import_reads_stdin_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    record = {"name": "piped", "kind": "cron", "cron_expression": "@hourly"}
    record["target"] = "demo.echo"
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps([record])))
    assert "1 created" in _run("import_schedules", "-")
    assert Schedule.objects.get().cron_dialect == "unix"
