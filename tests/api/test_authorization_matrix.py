"""Who may call what: every URL pattern and every persona → the expected answer.

The URL patterns come from the resolver, so an endpoint added without a rule
here fails `test_every_url_pattern_has_a_rule`. Each rule names the least role
that may use the endpoint with that method; every persona below it must be
refused (401/403, or a redirect to the login page for browser pages) and every
persona at or above it must get through (any answer but a refusal or a 500).
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from core.roles import ROLES
from tests.conftest import PASSWORD

PERSONAS = ("anonymous", "outsider", "viewer", "operator", "editor", "superuser")
RANK = {name: index for index, name in enumerate(PERSONAS)}
PUBLIC = "anonymous"  # no sign-in needed (probes, login pages)
SIGNED_IN = "outsider"  # any signed-in user
NOBODY = "nobody"  # refused to every persona (read-only admin, foreign auth)
RANK[NOBODY] = len(PERSONAS)

# --- Rules for our own endpoints: {url name: {method: least persona}} -------------
R, V, OP, E, S = PUBLIC, "viewer", "operator", "editor", "superuser"
RULES: dict[str, dict[str, str]] = {
    "healthz": {"GET": R},
    "readyz": {"GET": R},
    "user-settings": {"GET": SIGNED_IN, "POST": SIGNED_IN},
    "api-me": {"GET": SIGNED_IN, "PATCH": SIGNED_IN},
    "schema": {"GET": SIGNED_IN},
    "docs": {"GET": SIGNED_IN},
    "redoc": {"GET": SIGNED_IN},
    "schedule-list": {"GET": V, "POST": E},
    "schedule-detail": {"GET": V, "PUT": E, "PATCH": E, "DELETE": E},
    "schedule-pause-all": {"POST": OP},
    "schedule-resume-all": {"POST": OP},
    "schedule-preview": {"POST": V},
    "schedule-next-runs": {"GET": V},
    "schedule-pause": {"POST": OP},
    "schedule-resume": {"POST": OP},
    "schedule-tags": {"GET": V, "PUT": E},
    "schedule-remove-tag": {"DELETE": E},
    "schedule-run-now": {"POST": OP},
    "schedule-history": {"GET": V},
    "jobrun-list": {"GET": V},
    "jobrun-detail": {"GET": V},
    "jobrun-log": {"GET": V},
    "jobrun-result-file": {"GET": V},
    "jobrun-cancel": {"POST": OP},
    "jobrun-retry": {"POST": OP},
    "service-list": {"GET": V},
    "service-detail": {"GET": V},
    "service-invoke": {"POST": E},
    "connection-list": {"GET": V, "POST": E},
    "connection-detail": {"GET": V, "PUT": E, "PATCH": E, "DELETE": E},
    "connection-test": {"POST": OP},
    "auditevent-list": {"GET": V},
    "auditevent-detail": {"GET": V},
    "apitoken-list": {"GET": SIGNED_IN, "POST": SIGNED_IN},
    "apitoken-detail": {"DELETE": SIGNED_IN},
    "executions-api:execution-list": {"GET": V, "POST": OP},
    "executions-api:execution-detail": {"GET": V},
    "executions-api:execution-poll": {"GET": V},
    "executions-api:execution-result": {"GET": V},
    "executions-api:component-list": {"GET": V},
    "executions-api:component-detail": {"GET": V},
    "executions-api:credential-list": {"GET": V, "POST": E},
    "executions-api:credential-detail": {"GET": V, "PUT": E, "PATCH": E, "DELETE": E},
    "executions-api:credential-verify": {"POST": OP},
    # elastic.io-compatible (HTTP Basic or Bearer)
    "elasticio-v2-verify-credential": {"POST": OP},
    "elasticio-v2-dynamic-metadata": {"POST": OP},
    "elasticio-v2-select-model": {"POST": OP},
    "elasticio-v2-poll": {"GET": V},
    "elasticio-v2-result": {"GET": V},
    "elasticio-v1-schedule": {"POST": OP},
    "elasticio-v1-poll": {"GET": V},
    "elasticio-v1-result": {"GET": V},
    # Conductor-compatible (X-Authorization token from /api/token)
    "conductor-token": {"POST": R},
    "conductor-schedules": {"GET": V, "POST": E},
    "conductor-schedule": {"GET": V, "DELETE": E},
    "conductor-schedule-pause": {"GET": OP, "PUT": OP},
    "conductor-schedule-resume": {"GET": OP, "PUT": OP},
    "conductor-schedule-tags": {"GET": V, "PUT": E, "POST": E, "DELETE": E},
    "conductor-pause-all": {"GET": OP},
    "conductor-resume-all": {"GET": OP},
    "conductor-requeue": {"GET": OP},
    "conductor-requeue-doc": {"POST": OP},
    "conductor-next-few": {"GET": V},
    "conductor-next-few-doc": {"GET": V},
    "conductor-search-executions": {"GET": V},
    "conductor-test-timeout": {"GET": V},
    # Unknown paths answer 404 to anyone, as Django's own 404 does.
    "conductor-not-found": {"GET": R},
    "conductor-workflow": {"POST": OP},
    # OpenSpecimen-compatible (X-OS-API-TOKEN or HTTP Basic)
    "os-sessions": {"POST": R, "DELETE": SIGNED_IN},
    "os-jobs": {"GET": V, "POST": E},
    "os-job-count": {"GET": V},
    "os-job": {"GET": V, "PUT": E, "DELETE": E},
    "os-job-runs": {"GET": V, "POST": OP},
    # OpenSpecimen shows a run only to whoever triggered it and to admins; the
    # sample run was triggered by the superuser.
    "os-job-run": {"GET": S},
    "os-job-run-result-file": {"GET": S},
    "os-not-found": {"GET": R},
    # The demo shop stands in for an external system: only its own key opens it.
    "demo/shop/wp-json/wc/v3/products/categories": {"GET": NOBODY},
    "demo/shop/wp-json/wc/v3/products": {"GET": NOBODY},
    # Admin pages of our own
    "home": {"GET": R},  # a redirect to the dashboard, which then asks to sign in
    "admin:index": {"GET": V},
    "admin:dashboard-figures": {"GET": V},
    "admin:login": {"GET": R},
    "admin:logout": {"POST": R},
    "admin:password_change": {"GET": V},
    "admin:password_change_done": {"GET": V},
    "admin:jsi18n": {"GET": V},
    # No model offers autocomplete fields, so Django refuses every lookup.
    "admin:autocomplete": {"GET": NOBODY},
    "admin:app_list": {"GET": V},
    "admin:view_on_site": {"GET": V},
    "admin:jobruns_jobrun_result": {"GET": V},
    "admin:auth_user_password_change": {"GET": S},
    "admin:executions_credential_verify": {"POST": OP},
    "admin:executions_credential_verify_progress": {"GET": V},
    # Acting from the admin: GET shows the form or confirmation, with the same
    # permission as the POST that acts (and as the API's endpoint for it).
    "admin:jobruns_jobrun_run_now": {"GET": OP},
    "admin:jobruns_jobrun_retry": {"GET": OP},
    "admin:jobruns_jobrun_cancel": {"GET": OP},
    "admin:jobruns_jobrun_live": {"GET": V},
    "admin:jobruns_jobrun_live_list": {"GET": V},
    "admin:schedules_schedule_pause": {"GET": OP},
    "admin:schedules_schedule_resume": {"GET": OP},
    "admin:schedules_schedule_duplicate": {"GET": E},
    "admin:connections_outgoingconnection_test": {"POST": OP},
}
# Admin URL patterns Django generates for every registered model, checked below
# against the model's view/add/change/delete permission.
_ADMIN_VIEWS = {
    "changelist": "view",
    "add": "add",
    "change": "view",
    "history": "view",
    "delete": "delete",
}
# Admin's catch-all and per-object redirect patterns carry no name.
UNNAMED_PATTERNS = {"admin/(?P<url>.*)$", "admin/<path:object_id>/"}


# --- Walking the resolver -------------------------------------------------------------
def _walk(
    patterns: list[Any], prefix: str = "", namespace: str = ""
) -> Iterator[tuple[str, str, Any]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = namespace + (f"{pattern.namespace}:" if pattern.namespace else "")
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            route = prefix + str(pattern.pattern)
            name = namespace + pattern.name if pattern.name else ""
            yield route, name, pattern


def _key(route: str, name: str) -> str:
    if name and not name.endswith(":"):
        return name
    if route.startswith("admin/") and route.endswith("<path:object_id>/"):
        return "admin/<path:object_id>/"
    return route


def resolver_keys() -> set[str]:
    keys = set()
    for route, name, _ in _walk(get_resolver().url_patterns):
        if "format" in route and "\\.(?P<format>" in route:
            continue
        keys.add(_key(route, name))
    return keys


def _admin_model_rules() -> dict[str, dict[str, str]]:
    """Django's per-model admin pages follow the model permissions; a page the
    ModelAdmin switches off for everyone (read-only models) is NOBODY's."""
    rules = {}
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        for view, action in _ADMIN_VIEWS.items():
            codename = f"{opts.app_label}.{action}_{opts.model_name}"
            least = _least_role_holding(codename)
            if action in {"add", "delete"} and not _superuser_may(model_admin, action):
                least = NOBODY
            rules[f"admin:{opts.app_label}_{opts.model_name}_{view}"] = {"GET": least}
    return rules


def _superuser_may(model_admin: Any, action: str) -> bool:
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = get_user_model()(is_superuser=True, is_active=True, is_staff=True)
    if action == "add":
        return bool(model_admin.has_add_permission(request))
    return bool(model_admin.has_delete_permission(request))


def _least_role_holding(permission: str) -> str:
    for role in ("viewer", "operator", "editor"):
        if permission in ROLES[role]:
            return role
    return "superuser"


def all_rules() -> dict[str, dict[str, str]]:
    return {**RULES, **_admin_model_rules()}


def test_every_url_pattern_has_a_rule() -> None:
    keys = resolver_keys() - UNNAMED_PATTERNS
    rules = all_rules()
    missing = sorted(keys - set(rules))
    stale = sorted(set(rules) - keys)
    assert not missing, f"URL patterns without an access rule: {missing}"
    assert not stale, f"rules for URL patterns that no longer exist: {stale}"


# --- Sample objects so every URL resolves to something real --------------------------
@pytest.fixture
def world(db: Any, superuser: Any, settings: Any) -> dict[str, Any]:
    from connections.services import connection_create
    from core.accounts import api_token_create
    from core.models import WorkerHeartbeat
    from executions.models import Execution
    from executions.services import credential_create, execution_create
    from jobruns.models import JobRun
    from jobruns.services import jobrun_enqueue
    from schedules.services import schedule_create

    settings.DEMO_SHOP_ENABLED = True  # off by default with Postgres, as in production
    now = timezone.now()
    schedule = schedule_create(
        data={
            "name": "matrix",
            "kind": "interval",
            "interval_minutes": 5,
            "target": "core.echo",
            "tags": {"team": "ops"},
        },
        by=superuser,
        now=now,
    )
    run = jobrun_enqueue(
        schedule=schedule, trigger=JobRun.Trigger.MANUAL, by=superuser, now=now,
        send=False,
    )  # fmt: skip
    credential = credential_create(
        name="matrix-shop",
        component="woocommerce",
        fields={"url": "http://127.0.0.1:9/shop", "consumer_key": "ck_x",
                "consumer_secret": "cs_secret_value"},
        by=superuser,
    )  # fmt: skip
    execution = execution_create(
        component="woocommerce",
        method=Execution.Method.VERIFY_CREDENTIALS,
        credential=credential.pk,
        requested_by=superuser,
        via=Execution.Via.API,
        now=now,
        dispatch=False,
    )
    connection = connection_create(
        name="matrix cache",
        kind="redis",
        # A closed port: a test answers at once with ok false.
        settings={"url": "redis://127.0.0.1:9/0", "timeout_seconds": 1},
        secrets={"password": "matrix-redis-password"},
        by=superuser,
    )
    token, _ = api_token_create(user=superuser, name="matrix")
    WorkerHeartbeat.objects.create(hostname="w@matrix", seen_at=now)
    _a_conductor_key(superuser, now)
    _one_of_each_beat_model(now)
    return {
        "schedule": schedule,
        "run": run,
        "credential": credential,
        "connection": connection,
        "execution": execution,
        "token": token,
    }


def _a_conductor_key(user: Any, now: Any) -> None:
    from compat.conductor.services import conductor_api_key_create

    conductor_api_key_create(user=user, name="matrix-admin", now=now)


def _one_of_each_beat_model(now: Any) -> None:
    from django_celery_beat.models import ClockedSchedule, SolarSchedule

    ClockedSchedule.objects.create(clocked_time=now)
    SolarSchedule.objects.create(event="sunrise", latitude=52.5, longitude=13.4)


def _kwargs_for(key: str, route: str, world: dict[str, Any]) -> dict[str, Any]:
    values = {
        "name": world["schedule"].name,
        "key": "team",
        "pk": str(world["execution"].pk),
        "execution_id": str(world["execution"].pk),
        "component": "woocommerce",
        "rev": "latest",
        "run_id": world["run"].pk,
        "job_id": world["schedule"].pk,
        "id": world["token"].pk,
        "app_label": "schedules",
        "content_type_id": ContentType.objects.get_for_model(world["schedule"]).pk,
        "object_id": world["schedule"].pk,
    }
    if "credential" in key:
        values["name"] = world["credential"].name
        values["pk"] = world["credential"].pk
    if "component-detail" in key:
        values["name"] = "woocommerce"
    if "connection" in key:
        values["name"] = world["connection"].name
        values["pk"] = world["connection"].pk
    if key == "service-invoke":
        values["name"] = "core.echo"
    return values


def _admin_object_url(key: str) -> str | None:
    app_model, _, view = key.removeprefix("admin:").rpartition("_")
    for model in admin.site._registry:
        opts = model._meta
        if f"{opts.app_label}_{opts.model_name}" == app_model:
            obj = model._default_manager.first()
            base = f"/admin/{opts.app_label}/{opts.model_name}/"
            if view in {"changelist", "add"}:
                return base + ("add/" if view == "add" else "")
            if obj is None:
                return None
            return f"{base}{obj.pk}/{view}/"
    return None


def _url_for(key: str, world: dict[str, Any]) -> str | None:
    from django.urls import reverse

    if key in _admin_model_rules():
        return _admin_object_url(key)
    if "/" in key:  # an unnamed route, literal path
        return "/" + key
    route = next(r for r, n, _ in _walk(get_resolver().url_patterns) if n == key)
    from django.urls.exceptions import NoReverseMatch

    kwargs = _kwargs_for(key, route, world)
    for size in range(len(kwargs), -1, -1):
        try:
            return reverse(key, kwargs=dict(list(_needed(route, kwargs))[:size]))
        except NoReverseMatch:
            continue
    return reverse(key)


def _needed(route: str, kwargs: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for name, value in kwargs.items():
        if f"<{name}>" in route or f":{name}>" in route or f"P<{name}>" in route:
            yield name, value


# --- Signing in as each persona -------------------------------------------------------
def _persona(name: str, superuser: Any) -> Any:
    if name == "anonymous":
        return None
    if name == "superuser":
        return superuser
    user = get_user_model().objects.create_user(username=f"m-{name}", password=PASSWORD)
    if name in ROLES:
        user.groups.add(Group.objects.get(name=name))
    return user


def _client_for(user: Any, path: str) -> APIClient:
    """Each interface's own way in: Basic for elastic.io and OpenSpecimen, a
    Conductor token for Conductor, the browser session for the rest."""
    client = APIClient()
    if user is None:
        return client
    if path.startswith(("/v1/", "/v2/", "/rest/ng/")):
        credentials = base64.b64encode(f"{user.username}:{PASSWORD}".encode()).decode()
        client.credentials(HTTP_AUTHORIZATION=f"Basic {credentials}")
    elif path.startswith(("/api/scheduler", "/api/workflow")):
        client.credentials(HTTP_X_AUTHORIZATION=_conductor_token(user))
    else:
        client.force_login(user)
    return client


def _conductor_token(user: Any) -> str:
    from compat.conductor.services import (
        conductor_api_key_create,
        conductor_token_issue,
    )

    now = timezone.now()
    key, secret = conductor_api_key_create(user=user, name="matrix", now=now)
    token = conductor_token_issue(key_id=key.key_id, key_secret=secret, now=now)
    assert token is not None
    return token


def _refused(response: Any) -> bool:
    if response.status_code in (401, 403):
        return True
    # OpenSpecimen answers a refused operation with 400 and this code.
    if response.status_code == 400 and b"_OP_NOT_ALLOWED" in response.content:
        return True
    location = response.headers.get("Location", "")
    return response.status_code == 302 and "/login/" in location


def _cases() -> Iterator[Any]:
    import django

    django.setup()
    for key, methods in sorted(all_rules().items()):
        for method, least in methods.items():
            yield pytest.param(key, method, least, id=f"{method} {key}")


@pytest.mark.parametrize(("key", "method", "least"), list(_cases()))
def test_each_persona_gets_exactly_what_its_role_allows(
    key: str, method: str, least: str, world: dict[str, Any], superuser: Any
) -> None:
    path = _url_for(key, world)
    assert path is not None, f"no sample object to address {key}"
    outcomes = []
    for persona in PERSONAS:
        user = _persona(persona, superuser)
        client = _client_for(user, path)
        response = client.generic(
            method, path, data="{}", content_type="application/json"
        )
        assert response.status_code < 500, (persona, response.status_code)
        allowed = RANK[persona] >= RANK[least]
        if allowed and _refused(response):
            outcomes.append(f"{persona} refused ({response.status_code})")
        if not allowed and not _refused(response):
            outcomes.append(f"{persona} let through ({response.status_code})")
    assert not outcomes, f"{method} {path}: " + "; ".join(outcomes)


def test_unknown_ids_do_not_leak_as_500(world: dict[str, Any], superuser: Any) -> None:
    client = APIClient()
    client.force_login(superuser)
    assert client.get(f"/api/v1/executions/{uuid.uuid4()}/").status_code == 404
