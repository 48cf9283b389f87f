"""The service registry: name -> Service class.

Services are the built-ins (`jobruns/jobs/builtin.py`, `jobruns/jobs/sync.py`),
those in every installed app's `job_services.py` and those in the dotted modules of
`SCHEDULER_SERVICE_MODULES`. Not `services.py`: in this code
base that name holds each app's domain services (`schedule_pause`, ...), which
are not jobs. Not `jobs.py` either, which django-extensions claims for its own
job runner.
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

from django.apps import apps
from django.conf import settings
from django.utils.module_loading import module_has_submodule

from jobruns.jobs.base import Service

DISCOVERY_MODULE = "job_services"
BUILTIN_MODULES = ("jobruns.jobs.builtin", "jobruns.jobs.sync")

_services: dict[str, type[Service]] = {}
_discovered = False
_lock = threading.Lock()


class ServiceNotFound(LookupError):
    pass


def register(cls: type[Service]) -> type[Service]:
    """Class decorator: make `cls` runnable under `cls.name`."""
    if not cls.name:
        raise ValueError(f"{cls.__qualname__} needs a non-empty `name`")
    existing = _services.get(cls.name)
    if existing is not None and existing.__qualname__ != cls.__qualname__:
        raise ValueError(
            f"service name {cls.name!r} is taken by {existing.__module__}."
            f"{existing.__qualname__}"
        )
    _services[cls.name] = cls
    return cls


def autodiscover() -> None:
    """Import every services module once (idempotent, thread-safe)."""
    global _discovered
    if _discovered:
        return
    with _lock:
        if _discovered:
            return
        for dotted in BUILTIN_MODULES:
            importlib.import_module(dotted)
        for config in apps.get_app_configs():
            if module_has_submodule(config.module, DISCOVERY_MODULE):
                importlib.import_module(f"{config.name}.{DISCOVERY_MODULE}")
        for dotted in settings.SCHEDULER_SERVICE_MODULES:
            importlib.import_module(dotted)
        _discovered = True


def get_service(name: str) -> type[Service]:
    autodiscover()
    try:
        return _services[name]
    except KeyError:
        raise ServiceNotFound(f"no service is registered as {name!r}") from None


def service_exists(name: str) -> bool:
    autodiscover()
    return name in _services


def all_services() -> list[type[Service]]:
    """Every registered service, sorted by name."""
    autodiscover()
    return [_services[name] for name in sorted(_services)]


def service_as_dict(service: type[Service]) -> dict[str, Any]:
    schema = service.input_schema
    properties = (schema or {}).get("properties") or {}
    required = set((schema or {}).get("required") or [])
    return {
        "name": service.name,
        "description": service.description,
        "input_schema": schema,
        "fields": [
            {
                "name": name,
                "type": str(spec.get("type", "")) if isinstance(spec, dict) else "",
                "required": name in required,
                "description": str(spec.get("description", ""))
                if isinstance(spec, dict)
                else "",
            }
            for name, spec in properties.items()
        ],
    }


def service_catalogue() -> list[dict[str, Any]]:
    """Every registered service described (name, description, schema, fields)."""
    return [service_as_dict(service) for service in all_services()]
