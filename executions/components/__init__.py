"""The component registry: name -> Component instance.

Components are declared in Python modules listed in ``EXECUTION_COMPONENT_MODULES``
(the WooCommerce connector by default) and register themselves with
``@register_component``.
"""

from __future__ import annotations

import importlib
import threading

from django.conf import settings

from executions.components.base import Component, ComponentError, Field, Module

__all__ = [
    "Component",
    "ComponentError",
    "ComponentNotFound",
    "Field",
    "Module",
    "all_components",
    "component_exists",
    "get_component",
    "register_component",
]

_components: dict[str, Component] = {}
_discovered = False
_lock = threading.Lock()


class ComponentNotFound(LookupError):
    pass


def register_component(cls: type[Component]) -> type[Component]:
    """Class decorator: make the component callable under ``cls.name``."""
    if not cls.name:
        raise ValueError(f"{cls.__qualname__} needs a non-empty `name`")
    existing = _components.get(cls.name)
    if existing is not None and type(existing).__qualname__ != cls.__qualname__:
        raise ValueError(f"component name {cls.name!r} is taken")
    _components[cls.name] = cls()
    return cls


def _autodiscover() -> None:
    global _discovered
    if _discovered:
        return
    with _lock:
        if not _discovered:
            for dotted in settings.EXECUTION_COMPONENT_MODULES:
                importlib.import_module(dotted)
            _discovered = True


def get_component(name: str) -> Component:
    _autodiscover()
    try:
        return _components[name]
    except KeyError:
        raise ComponentNotFound(f"no component is registered as {name!r}") from None


def component_exists(name: str) -> bool:
    _autodiscover()
    return name in _components


def all_components() -> list[Component]:
    _autodiscover()
    return [_components[name] for name in sorted(_components)]
