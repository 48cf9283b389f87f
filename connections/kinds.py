"""What each kind of connection takes: settings (stored as JSON) and secrets
(stored encrypted). Django-free: returns problems as sentences, the services
turn them into a ValidationError with field keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

# Django's configured EMAIL_BACKEND instead of an SMTP server (the demo uses it).
DJANGO_EMAIL_HOST = "django:"


@dataclass(frozen=True)
class Setting:
    type: type | tuple[type, ...]
    default: Any = None
    required: bool = False
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class Kind:
    settings: dict[str, Setting]
    secrets: tuple[str, ...]
    # Which secret a setting's value makes necessary: {("auth", "basic"): "password"}.
    needs: dict[tuple[str, Any], str] = field(default_factory=dict)


_TIMEOUT = Setting((int, float), default=10, minimum=0.1, maximum=300)

KINDS: dict[str, Kind] = {
    "rest": Kind(
        settings={
            "base_url": Setting(str, required=True),
            "auth": Setting(
                str, default="none", choices=("none", "basic", "bearer", "header")
            ),
            "username": Setting(str, default=""),
            "header_name": Setting(str, default=""),
            "timeout_seconds": _TIMEOUT,
            "verify_tls": Setting(bool, default=True),
        },
        secrets=("password", "token", "header_value"),
        needs={
            ("auth", "basic"): "password",
            ("auth", "bearer"): "token",
            ("auth", "header"): "header_value",
        },
    ),
    "smtp": Kind(
        settings={
            "host": Setting(str, required=True),
            "port": Setting(int, default=None, minimum=1, maximum=65535),
            "security": Setting(
                str, default="starttls", choices=("none", "starttls", "tls")
            ),
            "username": Setting(str, default=""),
            "from_address": Setting(str, required=True),
            "timeout_seconds": _TIMEOUT,
        },
        secrets=("password",),
    ),
    "redis": Kind(
        settings={
            "url": Setting(str, required=True),
            "timeout_seconds": _TIMEOUT,
        },
        secrets=("password",),
    ),
}
DEFAULT_SMTP_PORTS = {"none": 25, "starttls": 587, "tls": 465}


def clean_settings(
    kind: str, values: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """Settings with defaults filled in, and the problems found."""
    spec = KINDS[kind]
    problems = [
        f"{name} is not a setting of a {kind} connection."
        for name in sorted(set(values) - set(spec.settings))
    ]
    cleaned: dict[str, Any] = {}
    for name, setting in spec.settings.items():
        value = values.get(name)
        if value is None or value == "":
            if setting.required:
                problems.append(f"{name} is required.")
            cleaned[name] = setting.default
            continue
        problem = _problem(name, setting, value)
        if problem:
            problems.append(problem)
        cleaned[name] = value
    if not problems:
        problems.extend(_kind_rules(kind, cleaned))
    return cleaned, problems


def _problem(name: str, setting: Setting, value: Any) -> str | None:
    # bool is an int in Python; a number setting must not take true/false.
    if isinstance(value, bool) and setting.type is not bool:
        return f"{name} must be a {_type_name(setting)}."
    if not isinstance(value, setting.type):
        return f"{name} must be a {_type_name(setting)}."
    if setting.choices and value not in setting.choices:
        return f"{name} must be one of {', '.join(setting.choices)}."
    return _range_problem(name, setting, cast(float, value))


def _range_problem(name: str, setting: Setting, value: float) -> str | None:
    if setting.minimum is not None and value < setting.minimum:
        return f"{name} must be at least {setting.minimum}."
    if setting.maximum is not None and value > setting.maximum:
        return f"{name} must be at most {setting.maximum}."
    return None


def _type_name(setting: Setting) -> str:
    if setting.type is bool:
        return "boolean"
    if setting.type is str:
        return "text"
    return "whole number" if setting.type is int else "number"


def _kind_rules(kind: str, cleaned: dict[str, Any]) -> list[str]:
    if kind == "rest":
        return _rest_rules(cleaned)
    if kind == "smtp":
        return _smtp_rules(cleaned)
    return _redis_rules(cleaned)


def _rest_rules(cleaned: dict[str, Any]) -> list[str]:
    problems = []
    parts = urlsplit(cleaned["base_url"])
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append("base_url must be an http:// or https:// URL.")
    if parts.username or parts.password:
        problems.append("base_url must not hold a user or password; use auth.")
    if cleaned["auth"] == "basic" and not cleaned["username"]:
        problems.append("username is required with basic auth.")
    if cleaned["auth"] == "header" and not cleaned["header_name"]:
        problems.append("header_name is required with header auth.")
    return problems


def _smtp_rules(cleaned: dict[str, Any]) -> list[str]:
    problems = []
    if "@" not in cleaned["from_address"]:
        problems.append("from_address must be an e-mail address.")
    host = cleaned["host"]
    odd = "/" in host or ":" in host.strip("[]")
    if host != DJANGO_EMAIL_HOST and odd and not _is_ipv6(host):
        problems.append(
            f"host must be a host name or address (or {DJANGO_EMAIL_HOST!r}); "
            "put the port in port."
        )
    return problems


def _is_ipv6(host: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(host.strip("[]")).version == 6
    except ValueError:
        return False


def _redis_rules(cleaned: dict[str, Any]) -> list[str]:
    parts = urlsplit(cleaned["url"])
    problems = []
    if parts.scheme not in ("redis", "rediss", "unix"):
        problems.append("url must be a redis://, rediss:// or unix:// URL.")
    if parts.password:
        problems.append("url must not hold a password; put it in secrets.password.")
    return problems


def clean_secrets(
    kind: str, values: dict[str, Any]
) -> tuple[dict[str, str], list[str]]:
    """Non-empty secrets only; an empty value means "none stored"."""
    spec = KINDS[kind]
    problems = [
        f"{name} is not a secret of a {kind} connection."
        for name in sorted(set(values) - set(spec.secrets))
    ]
    cleaned: dict[str, str] = {}
    for name, value in values.items():
        if value is None or value == "" or name not in spec.secrets:
            continue
        if not isinstance(value, str):
            problems.append(f"{name} must be text.")
            continue
        cleaned[name] = value
    return cleaned, problems


def missing_secrets(
    kind: str, settings: dict[str, Any], secrets: dict[str, str]
) -> list[str]:
    """Secrets the chosen settings need but that are not stored."""
    spec = KINDS[kind]
    problems = [
        f"{secret} is required when {setting} is {value}."
        for (setting, value), secret in spec.needs.items()
        if settings.get(setting) == value and not secrets.get(secret)
    ]
    if kind == "smtp" and settings.get("username") and not secrets.get("password"):
        problems.append("password is required when username is set.")
    return problems
