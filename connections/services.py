"""Writes for outgoing connections; the API, the admin and the demo call these.

Secrets are validated per kind, stored encrypted (core.crypto, as credentials)
and never written anywhere in clear: audit records name which secrets changed,
never their values.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from connections.clients import check_connection
from connections.kinds import KINDS, clean_secrets, clean_settings, missing_secrets
from connections.models import OutgoingConnection, SentEmail
from core import crypto
from core.audit import Action, audit_record
from core.text import nul_problem

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TestResult:
    ok: bool
    latency_ms: float
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "latency_ms": self.latency_ms, "detail": self.detail}


def _cleaned(
    kind: str, settings: dict[str, Any], secrets: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    if kind not in KINDS:
        raise ValidationError({"kind": f"Choose one of {', '.join(KINDS)}."})
    errors: dict[str, list[str]] = {}
    if not isinstance(settings, dict):
        raise ValidationError({"settings": "The settings must be a JSON object."})
    if not isinstance(secrets, dict):
        raise ValidationError({"secrets": "The secrets must be a JSON object."})
    for where, value in (("settings", settings), ("secrets", secrets)):
        if problem := nul_problem(value, where):
            # PostgreSQL cannot store it: a field error, not a 500.
            raise ValidationError({where: problem})
    clean, problems = clean_settings(kind, settings)
    if problems:
        errors["settings"] = problems
    kept, problems = clean_secrets(kind, secrets)
    problems += [] if errors else missing_secrets(kind, clean, kept)
    if problems:
        errors["secrets"] = problems
    if errors:
        raise ValidationError(errors)
    return clean, kept


def connection_check_input(
    *, kind: str, settings: dict[str, Any], secrets: dict[str, Any]
) -> None:
    """Raise ValidationError if this kind, these settings and secrets do not fit."""
    _cleaned(kind, settings, secrets)


def connection_create(
    *,
    name: str,
    kind: str,
    settings: dict[str, Any],
    secrets: dict[str, Any] | None = None,
    by: Any = None,
) -> OutgoingConnection:
    """Store a named connection; settings checked per kind, secrets encrypted."""
    clean, kept = _cleaned(kind, settings, secrets or {})
    connection = OutgoingConnection(
        name=name,
        kind=kind,
        settings=clean,
        secrets_encrypted=crypto.encrypt_fields(kept),
        created_by=by if getattr(by, "pk", None) else None,
    )
    connection.full_clean()
    with transaction.atomic():
        connection.save()
        changes = {
            "name": [None, name],
            "kind": [None, kind],
            "settings": [None, clean],
            "secrets": [None, sorted(kept)],
        }
        audit_record(action=Action.CREATE, obj=connection, by=by, changes=changes)
    return connection


def connection_update(
    *,
    connection: OutgoingConnection,
    name: str | None = None,
    kind: str | None = None,
    settings: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
    by: Any = None,
) -> OutgoingConnection:
    """Change what is given. Secrets not given keep their stored values (they
    are write-only, so nobody could send them back); an empty one is removed.
    Changing the kind drops the secrets the new kind does not have."""
    before = _snapshot(connection)
    stored = connection.secrets()
    new_kind = kind or connection.kind
    allowed = KINDS[new_kind].secrets if new_kind in KINDS else ()
    merged = {key: value for key, value in stored.items() if key in allowed}
    merged.update(secrets or {})
    clean, kept = _cleaned(
        new_kind, connection.settings if settings is None else settings, merged
    )
    connection.name = name if name is not None else connection.name
    connection.kind = new_kind
    connection.settings = clean
    connection.secrets_encrypted = crypto.encrypt_fields(kept)
    changes = _changes(before, _snapshot(connection), stored, kept)
    if changes:
        # A test says nothing about a connection that changed since.
        connection.last_test = None
        connection.last_tested_at = None
    connection.full_clean()
    with transaction.atomic():
        connection.save()
        if changes:
            audit_record(action=Action.CHANGE, obj=connection, by=by, changes=changes)
    return connection


def _snapshot(connection: OutgoingConnection) -> dict[str, Any]:
    return {
        "name": connection.name,
        "kind": connection.kind,
        "settings": dict(connection.settings),
    }


def _changes(
    before: dict[str, Any],
    after: dict[str, Any],
    old_secrets: dict[str, str],
    new_secrets: dict[str, str],
) -> dict[str, Any]:
    changes = {
        key: [before[key], after[key]] for key in before if before[key] != after[key]
    }
    # Which secrets changed, by name only.
    changed = sorted(
        key
        for key in set(old_secrets) | set(new_secrets)
        if old_secrets.get(key) != new_secrets.get(key)
    )
    if changed:
        changes["secrets"] = [None, changed]
    return changes


def connection_delete(*, connection: OutgoingConnection, by: Any = None) -> None:
    """Delete a connection; services naming it fail with "no ... connection"."""
    with transaction.atomic():
        audit_record(
            action=Action.DELETE,
            obj=connection,
            by=by,
            changes={"name": [connection.name, None]},
        )
        connection.delete()


def connection_test(
    *, connection: OutgoingConnection, by: Any = None, now: datetime
) -> TestResult:
    """Connect and authenticate now; the verdict is recorded on the connection."""
    ok, latency_ms, detail = check_connection(connection)
    result = TestResult(ok=ok, latency_ms=latency_ms, detail=detail)
    with transaction.atomic():
        OutgoingConnection.objects.filter(pk=connection.pk).update(
            last_tested_at=now, last_test=result.as_dict()
        )
        audit_record(
            action=Action.VERIFY,
            obj=connection,
            by=by,
            changes={"ok": [None, ok]},
            now=now,
        )
    connection.last_tested_at, connection.last_test = now, result.as_dict()
    return result


def connection_rotate_keys() -> int:
    """Re-encrypt every connection's secrets with the first configured key."""
    count = 0
    with transaction.atomic():
        rows = OutgoingConnection.objects.select_for_update().exclude(
            secrets_encrypted=""
        )
        for connection in rows.only("pk", "secrets_encrypted"):
            connection.secrets_encrypted = crypto.rotate(connection.secrets_encrypted)
            connection.save(update_fields=["secrets_encrypted"])
            count += 1
    return count


# --- E-mails sent exactly once -------------------------------------------------
def sent_email_get(*, key: str) -> SentEmail | None:
    return SentEmail.objects.filter(key=key).first()


def sent_email_record(
    *, key: str, connection_name: str, message_id: str, now: datetime
) -> SentEmail:
    """Remember that the message for `key` went out (first record wins)."""
    try:
        with transaction.atomic():
            return SentEmail.objects.create(
                key=key,
                connection_name=connection_name,
                message_id=message_id,
                sent_at=now,
            )
    except IntegrityError:
        return SentEmail.objects.get(key=key)


def sent_email_prune(*, now: datetime) -> int:
    """Forget e-mails sent more than CONNECTIONS_SENT_EMAIL_KEEP_DAYS ago.

    A record only matters while a retry of the run that sent it may still
    come; retries are minutes to hours apart, so weeks are plenty.
    """
    cutoff = now - timedelta(days=settings.CONNECTIONS_SENT_EMAIL_KEEP_DAYS)
    deleted, _ = SentEmail.objects.filter(sent_at__lt=cutoff).delete()
    if deleted:
        logger.info("forgot %d sent e-mail records older than %s", deleted, cutoff)
    return deleted
