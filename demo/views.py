"""``/demo/inbox/``: what the demo's local receivers got (mounted in demo mode only)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from demo.inbox import read
from health.auth import LOGIN_URL
from monitoring_site.roles import Role, has_role

CHANNELS = ("email", "slack", "pagerduty", "webhook")


@never_cache
def inbox(request: HttpRequest) -> HttpResponse:
    """The newest deliveries, newest first; who may see the dashboard may see this."""
    if not settings.DASHBOARD_PUBLIC:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), login_url=LOGIN_URL)
        if not has_role(request.user, Role.VIEWER):
            return HttpResponse(
                "This needs the viewer role.", status=403, content_type="text/plain"
            )
    deliveries = read(Path(settings.DEMO_INBOX_FILE))
    counts = {channel: sum(1 for d in deliveries if d.channel == channel) for channel in CHANNELS}
    return render(request, "demo/inbox.html", {"deliveries": deliveries, "counts": counts})
