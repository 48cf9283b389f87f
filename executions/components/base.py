"""How a component is declared: fields, actions, triggers and special methods.

A component is a Python class (the counterpart of elastic.io's component.json
plus its code). The executor only ever calls three things on it:
``verify_credentials(cfg)``, ``get_meta_model(cfg, module=...)`` and a named
select-model method ``(cfg) -> {value: label}``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

FIELD_TYPES = ("string", "password", "url", "number", "integer", "boolean", "select")


class ComponentError(Exception):
    """A method failed with a message meant for the user (no traceback)."""


@dataclass(frozen=True)
class Field:
    label: str
    type: str = "string"
    required: bool = False
    secret: bool = False
    # A select field takes its options from a select-model method (its name) or
    # from a static mapping {value: label}.
    model: str | dict[str, str] | None = None
    placeholder: str = ""
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "label": self.label,
            "type": self.type,
            "required": self.required,
            "secret": self.secret,
        }
        if self.model is not None:
            data["model"] = self.model
        if self.placeholder:
            data["placeholder"] = self.placeholder
        if self.note:
            data["note"] = self.note
        return data


@dataclass(frozen=True)
class Module:
    """An action or a trigger; an action runs as the job service it names."""

    title: str
    description: str = ""
    fields: dict[str, Field] = field(default_factory=dict)
    dynamic_metadata: bool = False
    metadata: dict[str, Any] | None = None
    service: str = ""

    def select_models(self) -> set[str]:
        return {f.model for f in self.fields.values() if isinstance(f.model, str)}

    def as_dict(self, key: str) -> dict[str, Any]:
        data: dict[str, Any] = {
            "key": key,
            "title": self.title,
            "description": self.description,
            "fields": {name: f.as_dict() for name, f in self.fields.items()},
            "dynamic_metadata": self.dynamic_metadata,
        }
        if self.metadata is not None:
            data["metadata"] = self.metadata
        if self.service:
            data["service"] = self.service
        return data


def select_model(method: Callable[..., dict[str, str]]) -> Callable[..., Any]:
    """Marks a component method as callable by name through select-model."""
    method.is_select_model = True  # type: ignore[attr-defined]
    return method


class Component:
    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    description: ClassVar[str] = ""
    version: ClassVar[str] = "1.0.0"
    credentials: ClassVar[dict[str, Field]] = {}
    actions: ClassVar[dict[str, Module]] = {}
    triggers: ClassVar[dict[str, Module]] = {}
    # Seconds per method; methods not named here get EXECUTION_TIME_LIMIT_SECONDS.
    time_limits: ClassVar[dict[str, int]] = {}

    def verify_credentials(self, cfg: dict[str, Any]) -> dict[str, Any]:
        """Like sailor's stub when a component has no verifier: accept."""
        return {"verified": True}

    def get_meta_model(self, cfg: dict[str, Any], *, module: str) -> dict[str, Any]:
        raise ComponentError(f"{module} declares no dynamic metadata")

    # --- Introspection used by the executor and the catalogue -----------------
    def module(self, key: str) -> Module | None:
        """Triggers first, then actions, as sailor looks them up."""
        return self.triggers.get(key) or self.actions.get(key)

    def module_kind(self, key: str) -> str:
        return "trigger" if key in self.triggers else "action"

    def select_model_names(self) -> list[str]:
        return sorted(
            name
            for name in dir(type(self))
            if getattr(getattr(type(self), name), "is_select_model", False)
        )

    def call_select_model(self, method: str, cfg: dict[str, Any]) -> dict[str, str]:
        if method not in self.select_model_names():
            raise ComponentError(
                f"{method} is not a select-model method of {self.name}"
            )
        return getattr(self, method)(cfg)

    def secret_credential_fields(self) -> set[str]:
        return {name for name, f in self.credentials.items() if f.secret}

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "version": self.version,
            "credentials": {
                "fields": {n: f.as_dict() for n, f in self.credentials.items()}
            },
            "actions": {k: m.as_dict(k) for k, m in self.actions.items()},
            "triggers": {k: m.as_dict(k) for k, m in self.triggers.items()},
            "select_models": self.select_model_names(),
        }
