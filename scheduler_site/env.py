"""Strict readers for settings taken from the environment.

Every reader raises ``ImproperlyConfigured`` with a sentence that names the
variable, so a bad value stops start-up with a message an operator can act on
instead of a traceback from deep inside a library.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str) -> str:
    """The variable's value, or ``default`` when it is unset."""
    return os.environ.get(name, default)


def env_secret(name: str) -> str | None:
    """A secret from ``NAME`` or from the file named by ``NAME_FILE``."""
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ImproperlyConfigured(
                f"{name}_FILE names {file_name!r}, which cannot be read "
                f"({exc.strerror})."
            ) from exc
    return os.environ.get(name) or None


def env_bool(name: str, default: bool) -> bool:
    """Booleans are parsed strictly: a typo must not silently mean False."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name} must be one of true/false, yes/no, on/off or 1/0, got {raw!r}."
    )


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(
            f"{name} must be a whole number, got {raw!r}."
        ) from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}.")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def database_from_env(name: str, default_sqlite: Path) -> dict[str, Any]:
    """Parse ``DATABASE_URL``; SQLite gets options that let processes share it."""
    url = os.environ.get(name) or f"sqlite:///{default_sqlite}"
    try:
        config = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    except (ValueError, KeyError) as exc:
        raise ImproperlyConfigured(
            f"{name} is not a database URL we understand ({exc}); "
            "use postgres://user@host:5432/name or sqlite:///path/to/file.sqlite3."
        ) from None
    engine = config.get("ENGINE", "")
    if engine.endswith("sqlite3"):
        # Web, worker and beat are separate processes sharing one file: WAL lets
        # readers run beside a writer, IMMEDIATE takes the write lock at BEGIN so
        # two writers queue on `timeout` instead of failing with "database is locked".
        config["CONN_MAX_AGE"] = 0
        config["OPTIONS"] = {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
        config["TEST"] = {"NAME": str(default_sqlite.with_name("test-db.sqlite3"))}
    elif "postgresql" not in engine:
        raise ImproperlyConfigured(
            f"{name} names an unsupported database ({url.split(':', 1)[0]}); "
            "use PostgreSQL in production or SQLite on a laptop."
        )
    return dict(config)


def broker_url_from_env(name: str, default: str) -> str:
    url = os.environ.get(name) or default
    scheme = urlparse(url).scheme
    if scheme not in {"redis", "rediss", "amqp", "amqps", "pyamqp", "filesystem"}:
        raise ImproperlyConfigured(
            f"{name} must be a redis://, amqp:// or filesystem:// URL, got {url!r}."
        )
    return url


def redis_url_from_env(name: str) -> str | None:
    url = os.environ.get(name) or None
    if url is not None and urlparse(url).scheme not in {"redis", "rediss"}:
        raise ImproperlyConfigured(f"{name} must be a redis:// URL, got {url!r}.")
    return url


def secret_key_from_env(name: str, keep_in: Path) -> str:
    """The given key, or one generated once and kept so sessions survive restarts."""
    given = env_secret(name)
    if given:
        return given
    if keep_in.exists():
        return keep_in.read_text(encoding="utf-8").strip()
    keep_in.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    keep_in.write_text(key, encoding="utf-8")
    keep_in.chmod(0o600)
    return key


def file_storage_from_env() -> dict[str, Any]:
    """The ``default`` entry of ``STORAGES``: where result files live.

    ``filesystem`` (default) keeps them under ``MEDIA_ROOT``, which every web and
    worker process must share. ``s3`` puts them in an S3-compatible bucket
    (AWS, MinIO, Ceph...) through django-storages, for workers on other hosts.
    """
    kind = os.environ.get("FILE_STORAGE", "filesystem").strip().lower()
    if kind == "filesystem":
        # Its location is MEDIA_ROOT, read when the storage is first used.
        return {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    if kind != "s3":
        raise ImproperlyConfigured(
            f"FILE_STORAGE must be filesystem or s3, got {kind!r}."
        )
    bucket = os.environ.get("S3_BUCKET", "").strip()
    if not bucket:
        raise ImproperlyConfigured("FILE_STORAGE=s3 needs S3_BUCKET.")
    endpoint = os.environ.get("S3_ENDPOINT_URL") or None
    options: dict[str, Any] = {
        "bucket_name": bucket,
        "endpoint_url": endpoint,
        "region_name": os.environ.get("S3_REGION") or None,
        # Unset: boto3's own chain (AWS_* variables, an instance or pod role).
        "access_key": os.environ.get("S3_ACCESS_KEY_ID") or None,
        "secret_key": env_secret("S3_SECRET_ACCESS_KEY"),
        "location": os.environ.get("S3_PREFIX", "").strip("/"),
        # Private objects, read back through the API's permission checks only.
        "default_acl": None,
        "querystring_auth": True,
        # A run's file is deleted before it is written again; never rename.
        "file_overwrite": True,
        "signature_version": "s3v4",
    }
    if endpoint:
        # Self-hosted S3 (MinIO and the like) rarely has per-bucket DNS names.
        options["addressing_style"] = "path"
    return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}
