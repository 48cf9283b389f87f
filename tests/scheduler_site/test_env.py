from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from scheduler_site import env

ROOT = Path(__file__).resolve().parents[2]


def test_booleans_are_parsed_strictly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEBUG", "yes")
    assert env.env_bool("DEBUG", False) is True
    monkeypatch.setenv("DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="DEBUG must be one of"):
        env.env_bool("DEBUG", False)


def test_database_url_defaults_to_a_shared_sqlite_file(tmp_path: Path) -> None:
    os.environ.pop("DATABASE_URL_UNDER_TEST", None)
    config = env.database_from_env("DATABASE_URL_UNDER_TEST", tmp_path / "db.sqlite3")
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == str(tmp_path / "db.sqlite3")
    assert "journal_mode=WAL" in config["OPTIONS"]["init_command"]


def test_database_url_for_postgres_is_understood(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DB_X", "postgres://app@db.internal:5433/scheduler")
    config = env.database_from_env("DB_X", Path("/unused"))
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["NAME"]) == (
        "db.internal",
        5433,
        "scheduler",
    )


def test_unsupported_database_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DB_X", "mysql://root@localhost/x")
    with pytest.raises(
        ImproperlyConfigured, match="DB_X names an unsupported database"
    ):
        env.database_from_env("DB_X", Path("/unused"))


def test_broker_url_must_be_a_known_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROKER_X", "kafka://localhost")
    with pytest.raises(ImproperlyConfigured, match="BROKER_X must be a redis://"):
        env.broker_url_from_env("BROKER_X", "filesystem://")


def test_secret_is_read_from_the_file_variant(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret_file = tmp_path / "key"
    secret_file.write_text("s3cret-from-file\n")
    monkeypatch.setenv("API_KEY_X_FILE", str(secret_file))
    assert env.env_secret("API_KEY_X") == "s3cret-from-file"


def test_unreadable_secret_file_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("API_KEY_X_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="API_KEY_X_FILE names"):
        env.env_secret("API_KEY_X")


def test_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    keep = tmp_path / "secret_key"
    first = env.secret_key_from_env("SECRET_KEY_UNSET_X", keep)
    assert len(first) >= 50
    assert env.secret_key_from_env("SECRET_KEY_UNSET_X", keep) == first
    assert oct(keep.stat().st_mode & 0o777) == "0o600"


def test_a_bad_value_stops_start_up_with_a_sentence(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**os.environ, "DEBUG": "perhaps", "SCHEDULER_VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "DEBUG must be one of true/false" in result.stderr
    assert "Traceback" not in result.stderr
