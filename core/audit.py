"""The audit trail: services record who changed what, from where.

Services call `audit_record` after a write; "from where" (interface and client
address) is not theirs to know, so it travels in a context variable that the
request middleware (`AuditContextMiddleware`) and management commands
(`AuditedCommand`) set. Anything outside both (the dispatcher, workers) is
recorded as the system.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.management.base import BaseCommand
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from core.models import AuditEvent

Action = AuditEvent.Action
Interface = AuditEvent.Interface

# Longest prefix first. The compatible APIs live at their originals' paths.
INTERFACE_PREFIXES: tuple[tuple[str, str], ...] = (
    ("/admin/", Interface.ADMIN),
    ("/api/v1/", Interface.API),
    ("/api/schema", Interface.API),
    ("/api/docs", Interface.API),
    ("/api/redoc", Interface.API),
    ("/api/", Interface.CONDUCTOR),
    ("/rest/", Interface.OPENSPECIMEN),
    ("/v1/", Interface.ELASTICIO),
    ("/v2/", Interface.ELASTICIO),
)


@dataclass(frozen=True)
class AuditContext:
    interface: str
    remote_addr: str | None = None
    actor_label: str = ""
    # The request, read when an event is recorded: DRF authenticates inside the
    # view, after the middleware ran, and sets request.user only then.
    request: HttpRequest | None = None


_context: ContextVar[AuditContext | None] = ContextVar("audit_context", default=None)


@contextmanager
def audit_context(
    *,
    interface: str,
    remote_addr: str | None = None,
    actor_label: str = "",
    request: HttpRequest | None = None,
) -> Iterator[AuditContext]:
    """Record events inside the block as coming from `interface`."""
    context = AuditContext(interface, remote_addr, actor_label, request)
    token = _context.set(context)
    try:
        yield context
    finally:
        _context.reset(token)


def audit_current() -> AuditContext:
    return _context.get() or AuditContext(Interface.SYSTEM)


def audit_record(
    *,
    action: str,
    obj: models.Model,
    by: Any = None,
    changes: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """Store one event about `obj`; `by` (a user or a label) wins over the context."""
    context = audit_current()
    actor = _actor(by, context)
    return AuditEvent.objects.create(
        at=now or timezone.now(),
        actor=actor,
        actor_label=_label(actor, by, context),
        action=action,
        content_type=ContentType.objects.get_for_model(type(obj)),
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        interface=context.interface,
        remote_addr=context.remote_addr,
        changes=_jsonable(dict(changes or {})),
    )


def audit_snapshot(obj: models.Model, fields: Iterator[str] | Any) -> dict[str, Any]:
    """The JSON values of `fields` of `obj`, to diff before and after a write."""
    return _jsonable({name: getattr(obj, _attname(obj, name)) for name in fields})


def audit_diff(
    before: Mapping[str, Any], after: Mapping[str, Any]
) -> dict[str, list[Any]]:
    """{field: [old, new]} for every field whose value differs."""
    return {
        name: [before.get(name), after.get(name)]
        for name in sorted(set(before) | set(after))
        if before.get(name) != after.get(name)
    }


def audit_events_for(obj: models.Model) -> models.QuerySet[AuditEvent]:
    """Events of one object, newest first."""
    return AuditEvent.objects.filter(
        content_type=ContentType.objects.get_for_model(type(obj)),
        object_id=str(obj.pk),
    ).select_related("actor", "content_type")


def _attname(obj: models.Model, name: str) -> str:
    # Foreign keys are recorded by id: the related row may be gone later.
    field = obj._meta.get_field(name)
    return getattr(field, "attname", name)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def _actor(by: Any, context: AuditContext) -> Any:
    if getattr(by, "pk", None) is not None:
        return by
    user = getattr(context.request, "user", None)
    if user is not None and user.is_authenticated:
        return user
    return None


def _label(actor: Any, by: Any, context: AuditContext) -> str:
    if actor is not None:
        return str(actor.get_username())
    if context.actor_label:
        return context.actor_label
    if isinstance(by, str) and by:
        return by
    return "system"


# --- where events come from ------------------------------------------------------
def interface_for_path(path: str) -> str:
    for prefix, interface in INTERFACE_PREFIXES:
        if path.startswith(prefix):
            return interface
    return Interface.API


def client_address(request: HttpRequest) -> str | None:
    """The client's IP: REMOTE_ADDR, or the proxy's X-Forwarded-For behind TLS.

    X-Forwarded-For is anyone's to forge, so it is believed only when the
    operator said a proxy sits in front (BEHIND_TLS_PROXY), and then only its
    last hop, the one our proxy appended.
    """
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if settings.BEHIND_TLS_PROXY and forwarded:
        return forwarded.split(",")[-1].strip() or None
    return request.META.get("REMOTE_ADDR") or None


class AuditContextMiddleware:
    """Mark everything a request records with its interface and client address."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with audit_context(
            interface=interface_for_path(request.path_info),
            remote_addr=client_address(request),
            request=request,
        ):
            return self.get_response(request)


class AuditedCommand(BaseCommand):
    """A management command whose writes are recorded as the command line's."""

    def execute(self, *args: Any, **options: Any) -> Any:
        with audit_context(interface=Interface.CLI, actor_label=_os_user()):
            return super().execute(*args, **options)


def _os_user() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        # No login name (a container without a passwd entry for the uid).
        return "cli"
