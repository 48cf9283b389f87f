"""System services: worker heartbeats and readiness checks."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import connection

from core.models import WorkerHeartbeat


def worker_heartbeat_record(
    *, hostname: str, now: datetime, started: bool = False
) -> WorkerHeartbeat:
    """Record that ``hostname`` consumed a message at ``now``."""
    defaults: dict[str, Any] = {"seen_at": now}
    if started:
        defaults["started_at"] = now
    heartbeat, _ = WorkerHeartbeat.objects.update_or_create(
        hostname=hostname, defaults=defaults
    )
    return heartbeat


def check_database() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any driver error means "not ready"
        return {"ok": False, "detail": f"database unreachable: {type(exc).__name__}"}
    return {"ok": True, "vendor": connection.vendor}


def check_broker(*, url: str | None = None) -> dict[str, Any]:
    # Celery's current app (the site's, set as default when the site package
    # loads), so core does not import upward into scheduler_site.
    app = current_app
    try:
        with app.connection_for_write(url) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:  # kombu raises many types; all mean "not reachable"
        return {"ok": False, "detail": f"broker unreachable: {type(exc).__name__}"}
    return {"ok": True, "transport": app.conf.broker_url.split(":", 1)[0]}


def check_worker(*, now: datetime) -> dict[str, Any]:
    window = settings.WORKER_SEEN_WITHIN_SECONDS
    try:
        latest = WorkerHeartbeat.objects.filter(
            seen_at__gte=now - timedelta(seconds=window)
        ).first()
    except Exception as exc:  # database down is reported by check_database
        return {"ok": False, "detail": f"cannot read heartbeats: {type(exc).__name__}"}
    if latest is None:
        return {"ok": False, "detail": f"no worker seen in the last {window} s"}
    return {"ok": True, "hostname": latest.hostname, "seen_at": latest.seen_at}


def readiness(*, now: datetime) -> dict[str, Any]:
    checks = {
        "database": check_database(),
        "broker": check_broker(),
        "worker": check_worker(now=now),
    }
    ready = all(check["ok"] for check in checks.values())
    return {"status": "ok" if ready else "fail", "checks": checks}
