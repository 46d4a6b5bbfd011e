"""GET /metrics for Prometheus."""

from __future__ import annotations

import os

from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from metrics_app import exposition
from metrics_app.access import refusal


@never_cache
@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    reason = refusal(request)
    if reason is not None:
        return HttpResponse(f"{reason}\n", status=403, content_type="text/plain; charset=utf-8")
    response = HttpResponse(exposition.render(), content_type=exposition.CONTENT_TYPE)
    # Which worker served the scrape: lets an operator (and the tests) see that every gunicorn
    # worker serves the same cluster values.
    response["X-Served-By-Pid"] = str(os.getpid())
    return response
