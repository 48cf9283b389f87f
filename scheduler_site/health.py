"""Health endpoints for load balancers and orchestrators.

They answer without authentication and for any Host header, as probes do
(a container probe calls ``127.0.0.1``, which a production ``ALLOWED_HOSTS``
refuses), and reveal only which part is failing: never hostnames, backends,
configuration or credentials. The details go to the log for the operator.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers

from core.services import readiness

logger = logging.getLogger(__name__)


def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and serving requests."""
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    """Database, broker and a worker: 200 when all answer, 503 naming what does not."""
    report = readiness(now=timezone.now())
    failing = [name for name, check in report["checks"].items() if not check["ok"]]
    if failing:
        logger.warning("not ready: %s", report["checks"])
    body = {
        "status": report["status"],
        "checks": {name: {"ok": c["ok"]} for name, c in report["checks"].items()},
        "failing": failing,
    }
    return JsonResponse(body, status=503 if failing else 200)


PROBES: dict[str, Callable[[HttpRequest], JsonResponse]] = {
    "/healthz": healthz,
    "/readyz": readyz,
}


class HealthCheckMiddleware:
    """Answer the probes before anything reads the Host header or redirects.

    First in MIDDLEWARE: SecurityMiddleware's HTTPS redirect and CommonMiddleware's
    ALLOWED_HOSTS check would otherwise answer a plain-HTTP probe from
    ``127.0.0.1`` with 301 or 400. The probes take no input and show nothing
    secret, so skipping those checks for them is safe.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = PROBES.get(request.path_info)
        if probe is None:
            return self.get_response(request)
        response: HttpResponse
        if request.method in {"GET", "HEAD"}:
            response = probe(request)
        else:
            response = JsonResponse({"status": "method not allowed"}, status=405)
            response["Allow"] = "GET, HEAD"
        add_never_cache_headers(response)
        return response
