"""Health endpoints for load balancers and orchestrators.

They answer without authentication, as probes do, and reveal only which part
is failing, never configuration or credentials.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.services import readiness


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and serving requests."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Database, broker and a worker: 200 when all answer, 503 naming what does not."""
    report = readiness(now=timezone.now())
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)
