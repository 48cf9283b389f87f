"""Writes for credentials and executions; every adapter (native API, elastic.io
v1/v2, admin, CLI) calls these, so each rule lives here once."""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import socket
from datetime import datetime, timedelta
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from core import crypto
from core.audit import Action, audit_record
from core.logging import log_context
from core.messaging import publish_on_commit
from core.text import nul_problem
from core.timelimits import soft_time_limit
from executions.components import (
    Component,
    ComponentError,
    ComponentNotFound,
    Field,
    get_component,
)
from executions.models import Credential, Execution
from executions.selectors import component_action_get

logger = logging.getLogger(__name__)

Status = Execution.Status
Method = Execution.Method
# Celery's hard limit comes this long after the soft one, so the soft limit's
# clean "timed_out" record has time to be written before the child is killed.
HARD_LIMIT_GRACE_SECONDS = 5
# A running execution is lost when it outlived its hard limit by this much.
REAP_GRACE_SECONDS = 30
WORKER_LOST = "the worker was lost while running this execution"
# Inline fields that look like secrets are encrypted even if no schema says so.
_SECRET_NAME = re.compile(r"pass|secret|token|key|auth", re.IGNORECASE)


# --- Credentials ---------------------------------------------------------------
def _component_or_error(name: str, field: str = "component") -> Component:
    try:
        return get_component(name)
    except ComponentNotFound:
        raise ValidationError({field: f"No component is named {name!r}."}) from None


def _clean_credential_fields(
    component: Component, fields: dict[str, Any]
) -> dict[str, Any]:
    errors: list[str] = []
    unknown = sorted(set(fields) - set(component.credentials))
    if unknown:
        errors.append(f"Unknown field(s) for {component.name}: {', '.join(unknown)}.")
    for name, spec in component.credentials.items():
        value = fields.get(name)
        if value in (None, ""):
            if spec.required:
                errors.append(f"{name} is required.")
            continue
        if not isinstance(value, str | int | float | bool):
            errors.append(f"{name} must be a text, number or boolean value.")
        elif isinstance(spec.model, dict) and str(value) not in spec.model:
            errors.append(f"{name} must be one of {', '.join(spec.model)}.")
    if errors:
        raise ValidationError({"fields": errors})
    return {k: v for k, v in fields.items() if v not in (None, "")}


def credential_create(
    *, name: str, component: str, fields: dict[str, Any], by: Any = None
) -> Credential:
    """Store a named credential of ``component``; fields are validated and encrypted."""
    spec = _component_or_error(component)
    credential = Credential(
        name=name,
        component=component,
        fields_encrypted=crypto.encrypt_fields(_clean_credential_fields(spec, fields)),
        created_by=by if getattr(by, "pk", None) else None,
    )
    credential.full_clean()
    with transaction.atomic():
        credential.save()
        changes = {
            "name": [None, credential.name],
            "component": [None, component],
            "fields": [None, sorted(credential.fields())],
        }
        audit_record(action=Action.CREATE, obj=credential, by=by, changes=changes)
    return credential


def credential_update(
    *,
    credential: Credential,
    name: str | None = None,
    fields: dict | None = None,
    by: Any = None,
) -> Credential:
    """Rename and/or change fields; fields not given keep their stored values,
    so a secret need not be typed again to change the URL."""
    changes: dict[str, Any] = {}
    if name is not None and name != credential.name:
        changes["name"] = [credential.name, name]
        credential.name = name
    if fields is not None:
        stored = credential.fields()
        merged = {**stored, **fields}
        cleaned = _clean_credential_fields(get_component(credential.component), merged)
        credential.fields_encrypted = crypto.encrypt_fields(cleaned)
        # A verification says nothing about fields that changed since.
        credential.last_verification = None
        credential.last_verified_at = None
        changes.update(_changed_field_names(stored, cleaned))
    credential.full_clean()
    with transaction.atomic():
        credential.save()
        if changes:
            audit_record(action=Action.CHANGE, obj=credential, by=by, changes=changes)
    return credential


def _changed_field_names(
    before: dict[str, Any], after: dict[str, Any]
) -> dict[str, list[Any]]:
    """Which credential fields changed, by name only: values may be secrets."""
    changed = sorted(
        name for name in set(before) | set(after) if before.get(name) != after.get(name)
    )
    return {"fields": [None, changed]} if changed else {}


def credential_delete(*, credential: Credential, by: Any = None) -> None:
    """Delete a stored credential (executions keep running without it)."""
    with transaction.atomic():
        audit_record(
            action=Action.DELETE,
            obj=credential,
            by=by,
            changes={"name": [credential.name, None]},
        )
        credential.delete()


def credential_masked_fields(credential: Credential) -> dict[str, Any]:
    try:
        secret = get_component(credential.component).secret_credential_fields()
    except ComponentNotFound:
        secret = set(credential.fields())  # unknown schema: mask everything
    return credential.masked_fields(secret)


def credential_fields(name: str) -> dict[str, Any]:
    """The decrypted fields of the credential named ``name`` (for services).

    Raises ``Credential.DoesNotExist``. Callers must not log or return them.
    """
    return Credential.objects.get(name=name).fields()


def credential_lookup(reference: str | int) -> Credential | None:
    """By id (digits) or by name: names start with a letter, so never ambiguous."""
    text = str(reference).strip()
    query = {"pk": int(text)} if text.isdigit() else {"name": text}
    return Credential.objects.filter(**query).first()


def credential_rotate_keys() -> int:
    """Re-encrypt every stored secret with the first configured key."""
    count = 0
    with transaction.atomic():
        for credential in Credential.objects.select_for_update().only(
            "pk", "fields_encrypted"
        ):
            credential.fields_encrypted = crypto.rotate(credential.fields_encrypted)
            credential.save(update_fields=["fields_encrypted"])
            count += 1
        pending = Execution.objects.select_for_update().exclude(
            secret_fields_encrypted=""
        )
        for execution in pending.only("pk", "secret_fields_encrypted"):
            execution.secret_fields_encrypted = crypto.rotate(
                execution.secret_fields_encrypted
            )
            execution.save(update_fields=["secret_fields_encrypted"])
            count += 1
    return count


# --- Component actions as job services -----------------------------------------
def component_action_input(
    *, target: str, credential: str, values: dict[str, Any]
) -> dict[str, Any]:
    """The job input component action ``target`` reads: ``credential`` (a stored
    credential of its component, by name) plus its fields, typed; raises
    ValidationError({"input": [...]}) naming every missing or wrong value."""
    found = component_action_get(target)
    if found is None:
        raise ValidationError({"input": f"{target!r} is not a component action."})
    component, _, module = found
    errors: list[str] = []
    data: dict[str, Any] = {}
    if not credential:
        errors.append(
            f"Choose a {component.title} credential (the action reads it from "
            "input.credential)."
        )
    elif not Credential.objects.filter(
        name=credential, component=component.name
    ).exists():
        errors.append(f"No {component.title} credential is named {credential!r}.")
    else:
        data["credential"] = credential
    for name, spec in module.fields.items():
        raw = values.get(name)
        if raw in (None, ""):
            if spec.required:
                verb = "Choose" if spec.type == "select" else "Fill in"
                errors.append(f"{verb} {spec.label} (input.{name}).")
            continue
        try:
            data[name] = _field_value(spec, raw)
        except ValueError as exc:
            errors.append(f"{spec.label}: {exc}")
    if errors:
        raise ValidationError({"input": errors})
    return data


def _field_value(spec: Field, raw: Any) -> Any:
    if spec.type == "integer":
        try:
            return int(str(raw).strip())
        except ValueError:
            raise ValueError(f"{raw!r} is not a whole number") from None
    if spec.type == "number":
        try:
            return float(str(raw).strip())
        except ValueError:
            raise ValueError(f"{raw!r} is not a number") from None
    if spec.type == "boolean":
        return raw is True or str(raw).lower() in {"1", "true", "on", "yes"}
    if isinstance(spec.model, dict) and str(raw) not in spec.model:
        raise ValueError(f"choose one of {', '.join(spec.model)}")
    return str(raw)


# --- Executions: creation --------------------------------------------------------
def _check_method(
    component: Component, method: str, module: str, model_method: str
) -> None:
    if method not in Method.values:
        raise ValidationError({"method": f"Choose one of {', '.join(Method.values)}."})
    if method == Method.VERIFY_CREDENTIALS:
        return
    spec = component.module(module) if module else None
    if spec is None:
        raise ValidationError(
            {"module": f"{component.name} has no action or trigger {module!r}."}
        )
    if method == Method.GET_META_MODEL and not spec.dynamic_metadata:
        raise ValidationError({"module": f"{module} declares no dynamic metadata."})
    if method == Method.SELECT_MODEL and (
        not model_method or model_method not in component.select_model_names()
    ):
        raise ValidationError(
            {
                "model_method": f'Method "{model_method}" is not found in '
                f'"{module}" action or trigger.'
            }
        )


def _split_cfg(
    component: Component, cfg: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(config kept in clear, secret fields to encrypt)."""
    declared_secret = component.secret_credential_fields()
    secret = {
        k: v for k, v in cfg.items() if k in declared_secret or _SECRET_NAME.search(k)
    }
    return {k: v for k, v in cfg.items() if k not in secret}, secret


def execution_create(
    *,
    component: str,
    method: str,
    cfg: dict[str, Any] | None = None,
    credential: str | int | None = None,
    module: str = "",
    model_method: str = "",
    requested_by: Any = None,
    via: str,
    now: datetime,
    dispatch: bool = True,
) -> Execution:
    """Record a pending execution and, after commit, send it to the executions queue."""
    spec = _component_or_error(component)
    if method != Method.SELECT_MODEL:
        model_method = ""
    _check_method(spec, method, module, model_method)
    stored = None
    if credential not in (None, ""):
        stored = credential_lookup(credential)  # type: ignore[arg-type]
        if stored is None or stored.component != component:
            raise ValidationError(
                {"credential": f"No credential {credential!r} of {component}."}
            )
    if not isinstance(cfg or {}, dict):
        raise ValidationError({"cfg": "Must be a JSON object."})
    if problem := nul_problem(cfg or {}, "cfg"):
        raise ValidationError({"cfg": problem})
    config, secret = _split_cfg(spec, dict(cfg or {}))
    limit = spec.time_limits.get(method, settings.EXECUTION_TIME_LIMIT_SECONDS)
    execution = Execution.objects.create(
        component=component,
        method=method,
        module=module if method != Method.VERIFY_CREDENTIALS else module or "",
        model_method=model_method,
        config=config,
        credential=stored,
        secret_fields_encrypted=crypto.encrypt_fields(secret),
        time_limit_seconds=limit,
        requested_by=requested_by if getattr(requested_by, "pk", None) else None,
        requested_via=via,
        created_at=now,
        dispatched_at=now,
        expires_at=now + timedelta(seconds=settings.EXECUTION_RESULT_TTL_SECONDS),
    )
    logger.info("execution %s created: %s.%s", execution.pk, component, method)
    if stored is not None and method == Method.VERIFY_CREDENTIALS:
        changes = {"execution": [None, str(execution.pk)]}
        audit_record(
            action=Action.VERIFY,
            obj=stored,
            by=requested_by,
            changes=changes,
            now=now,
        )
    if dispatch:
        # A broker fault leaves it pending; execution_reap sends it again.
        publish_on_commit(
            functools.partial(_send, execution.pk, limit),
            what=f"execution {execution.pk}",
        )
    return execution


def _send(execution_id: Any, limit: int) -> None:
    from executions.tasks import run_method

    run_method.apply_async(
        (str(execution_id),),
        soft_time_limit=limit,
        time_limit=limit + HARD_LIMIT_GRACE_SECONDS,
    )


# --- Executions: running ---------------------------------------------------------
def worker_identity(hostname: str) -> str:
    """``host#pid``: lets a redelivery tell a dead child on this host at once."""
    return f"{hostname or socket.gethostname()}#{os.getpid()}"


def execution_claim(*, execution_id: Any, worker: str, now: datetime) -> bool:
    """pending → running; True for exactly one caller per execution."""
    return bool(
        Execution.objects.filter(pk=execution_id, status=Status.PENDING).update(
            status=Status.RUNNING, started_at=now, worker=worker
        )
    )


def execution_finish(
    *,
    execution_id: Any,
    status: str,
    now: datetime,
    result: Any = None,
    error: str = "",
) -> bool:
    """running → final status; wipes inline secrets; False if already ended."""
    with transaction.atomic():
        ended = Execution.objects.filter(pk=execution_id, status=Status.RUNNING).update(
            status=status,
            result=result,
            error=error,
            finished_at=now,
            secret_fields_encrypted="",
            expires_at=now + timedelta(seconds=settings.EXECUTION_RESULT_TTL_SECONDS),
        )
        if ended:
            _record_verification(execution_id, status, result, now)
    return bool(ended)


def _record_verification(
    execution_id: Any, status: str, result: Any, now: datetime
) -> None:
    execution = Execution.objects.only("method", "credential_id").get(pk=execution_id)
    if execution.method != Method.VERIFY_CREDENTIALS or not execution.credential_id:
        return
    outcome = (
        result
        if status == Status.SUCCEEDED
        else {"verified": False, "reason": f"the check ended {status}"}
    )
    Credential.objects.filter(pk=execution.credential_id).update(
        last_verification=outcome, last_verified_at=now
    )


def execution_run(
    *, execution_id: Any, worker: str, in_process: bool = False
) -> str | None:
    """Claim, call the component method, record the outcome; None if not claimed."""
    if not execution_claim(
        execution_id=execution_id, worker=worker, now=timezone.now()
    ):
        _end_if_owner_died(execution_id, worker)
        return None
    execution = Execution.objects.select_related("credential").get(pk=execution_id)
    with log_context(execution=execution.pk):
        logger.info(
            "execution %s started: %s.%s",
            execution.pk,
            execution.component,
            execution.method_name,
        )
        limit = execution.time_limit_seconds if in_process else None
        status, result, error = _call(execution, alarm=limit)
        if not execution_finish(
            execution_id=execution.pk,
            status=status,
            now=timezone.now(),
            result=result,
            error=error,
        ):
            logger.info("execution %s was ended by the reaper first", execution.pk)
            return Execution.objects.values_list("status", flat=True).get(
                pk=execution.pk
            )
        logger.info("execution %s %s", execution.pk, status)
    return status


def _call(execution: Execution, *, alarm: int | None) -> tuple[str, Any, str]:
    try:
        with soft_time_limit(alarm):
            return Status.SUCCEEDED, _json(_dispatch(execution)), ""
    except SoftTimeLimitExceeded:
        return (
            Status.TIMED_OUT,
            None,
            f"time limit of {execution.time_limit_seconds} s exceeded",
        )
    except (ComponentError, ComponentNotFound, crypto.DecryptionError) as exc:
        return Status.FAILED, None, str(exc)
    except Exception:  # the component's own bug: record it, never crash the worker
        logger.exception("execution %s raised", execution.pk)
        return (
            Status.FAILED,
            None,
            f"Execution {execution.pk}.{execution.method_name.lower()} failed",
        )


def execution_cfg(execution: Execution) -> dict[str, Any]:
    """What the component method gets: credential fields, config, inline secrets."""
    cfg: dict[str, Any] = {}
    if execution.credential is not None:
        cfg.update(execution.credential.fields())
        cfg["_account"] = str(execution.credential.pk)
    cfg.update(execution.config)
    cfg.update(crypto.decrypt_fields(execution.secret_fields_encrypted))
    return cfg


def _dispatch(execution: Execution) -> Any:
    component = get_component(execution.component)
    cfg = execution_cfg(execution)
    if execution.method == Method.GET_META_MODEL:
        return component.get_meta_model(cfg, module=execution.module)
    if execution.method == Method.SELECT_MODEL:
        return component.call_select_model(execution.model_method, cfg)
    # As sailor does: a thrown error is a failed check, not a failed execution,
    # and an answer without `verified` counts as verified.
    try:
        answer = component.verify_credentials(cfg)
    except SoftTimeLimitExceeded:
        raise
    except Exception as exc:
        return {"verified": False, "reason": str(exc) or type(exc).__name__}
    answer = dict(answer or {})
    answer["verified"] = bool(answer.get("verified", True))
    return answer


def _json(value: Any) -> Any:
    try:
        return json.loads(json.dumps(value, cls=DjangoJSONEncoder))
    except (TypeError, ValueError) as exc:
        raise ComponentError(f"the method returned something not JSON: {exc}") from exc


def _end_if_owner_died(execution_id: Any, worker: str) -> None:
    """A redelivered message (acks_late + reject_on_worker_lost) whose execution
    is still "running" under a dead process of this host: fail it now instead
    of waiting for the reaper."""
    owner = (
        Execution.objects.filter(pk=execution_id, status=Status.RUNNING)
        .values_list("worker", flat=True)
        .first()
    )
    if not owner:
        return
    host, _, pid = owner.rpartition("#")
    if host != worker.rpartition("#")[0] or not pid.isdigit():
        return
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        execution_finish(
            execution_id=execution_id,
            status=Status.FAILED,
            now=timezone.now(),
            error=WORKER_LOST,
        )
        logger.warning("execution %s: its worker process died", execution_id)
    except PermissionError:
        return


def execution_take_result(*, execution_id: Any, now: datetime) -> bool:
    """Mark a finished execution's result as read; True for exactly one caller.

    elastic.io's v1 result endpoint hands a result out once; the conditional
    UPDATE makes two concurrent reads give it to one of them only.
    """
    return bool(
        Execution.objects.filter(
            pk=execution_id, result_read_at=None, finished_at__isnull=False
        ).update(result_read_at=now)
    )


# --- Executions: housekeeping ------------------------------------------------------
def execution_reap(*, now: datetime) -> dict[str, int]:
    """End running executions whose worker is gone; re-send lost pending ones."""
    lost = 0
    running = Execution.objects.filter(status=Status.RUNNING).only(
        "pk", "started_at", "time_limit_seconds"
    )
    for execution in running:
        allowed = execution.time_limit_seconds + HARD_LIMIT_GRACE_SECONDS
        assert execution.started_at is not None  # running rows have started
        deadline = execution.started_at + timedelta(
            seconds=allowed + REAP_GRACE_SECONDS
        )
        if deadline < now:
            lost += execution_finish(
                execution_id=execution.pk,
                status=Status.FAILED,
                now=now,
                error=WORKER_LOST,
            )
    resent = 0
    stale = now - timedelta(seconds=settings.EXECUTION_REQUEUE_AFTER_SECONDS)
    candidates = Execution.objects.filter(
        status=Status.PENDING, dispatched_at__lt=stale, expires_at__gt=now
    ).only("pk", "time_limit_seconds", "dispatched_at")[:100]
    for execution in candidates:
        # Conditional on the old dispatched_at: two reapers never both re-send.
        # A duplicate message would still be harmless (the claim picks one).
        if Execution.objects.filter(
            pk=execution.pk,
            status=Status.PENDING,
            dispatched_at=execution.dispatched_at,
        ).update(dispatched_at=now):
            _send(execution.pk, execution.time_limit_seconds)
            resent += 1
    return {"lost": lost, "resent": resent}


def execution_prune(*, now: datetime) -> int:
    """Delete executions whose results expired."""
    deleted, _ = Execution.objects.filter(expires_at__lte=now).delete()
    return deleted
