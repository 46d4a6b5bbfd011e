"""The alert pages: views validate, call a service (the lifecycle's, the silences'), render.

Looking needs the viewer role, acting the operator role (as in the API and the admin); every
action is a POST behind Django's CSRF check. An action on a stale page (the alert moved on since
it was drawn) changes nothing and says why.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.decorators.cache import never_cache

from alerts.models import Alert, Rule
from alerts.pages.chart import render_chart
from alerts.pages.forms import AlertFilterForm, SilenceForm, silence_initial
from alerts.pages.selectors import AlertFilters, page_alerts, rules_overview, service_of, timeline
from alerts.services import InvalidTransition, acknowledge_alert, resolve_alert
from alerts.silences.services import create_silence, silenced_by
from health.auth import LOGIN_URL
from health.models import Service
from monitoring_site.humanize import datetime_text, format_number
from monitoring_site.roles import Role, has_role

logger = logging.getLogger(__name__)

# A chart is redrawn when the alert changes or a minute passes (its window grows while open).
CHART_CACHE_SECONDS = 300


class _PageView(View):
    """A page of the site: signed in through the dashboard's login, holding ``role``."""

    role = Role.VIEWER
    http_method_names = ["get"]

    @method_decorator(never_cache)
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), login_url=LOGIN_URL)
        if not has_role(request.user, self.role):
            message = f"This needs the {self.role.name.lower()} role."
            return HttpResponse(message, status=403, content_type="text/plain")
        return super().dispatch(request, *args, **kwargs)


def _context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    return {
        "can_act": has_role(request.user, Role.OPERATOR),
        "can_admin": has_role(request.user, Role.OPERATOR),  # operators enter the admin
        "refresh_seconds": settings.HEALTH_DASHBOARD_REFRESH_SECONDS,
        **extra,
    }


class AlertListView(_PageView):
    """``/alerts/``: the open alerts and the last day's resolved ones, filtered."""

    def get(self, request: HttpRequest) -> HttpResponse:
        return alert_list(request)


def alert_list(request: HttpRequest) -> HttpResponse:
    services = list(Service.objects.order_by("slug").values_list("slug", flat=True))
    form = AlertFilterForm(request.GET or None, services=services)
    status, active, recent = 200, list[Alert](), list[Alert]()
    if form.is_bound and not form.is_valid():
        status = 400
    else:
        filters = form.filters() if form.is_bound else AlertFilters()
        active, recent = page_alerts(filters, now=timezone.now())
    context = _context(
        request,
        nav_here="alerts",
        form=form,
        active=[_row(alert) for alert in active],
        recent=[_row(alert) for alert in recent],
        problems=form.problems() if status == 400 else [],
        here=request.get_full_path(),
    )
    return render(request, "alerts/pages/list.html", context, status=status)


def _row(alert: Alert) -> dict[str, Any]:
    return {"alert": alert, "service": service_of(alert)}


class AlertPageView(_PageView):
    """``/alerts/<id>/``: the alert, its chart, its timeline and its silence."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return alert_page(request, pk)


def alert_page(request: HttpRequest, pk: int) -> HttpResponse:
    alert = get_object_or_404(Alert.objects.select_related("rule"), pk=pk)
    now = timezone.now()
    context = _context(
        request,
        nav_here="alerts",
        alert=alert,
        service=service_of(alert),
        timeline=timeline(alert),
        silence=silenced_by(alert, now),
        chart_version=_chart_version(alert, now=now),
        here=request.get_full_path(),
    )
    return render(request, "alerts/pages/detail.html", context)


def _chart_version(alert: Alert, *, now: Any) -> str:
    """Changes when the chart would: the alert changed, or (while open) a minute went by."""
    moment = alert.resolved_at or now.replace(second=0, microsecond=0)
    changed = alert.acknowledged_at or alert.fired_at or alert.started_at
    return f"{int(changed.timestamp())}-{int(moment.timestamp())}"


class AlertChartView(_PageView):
    """``/alerts/<id>/chart.png``: the value around the firing, the threshold drawn."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return alert_chart(pk)


def alert_chart(pk: int) -> HttpResponse:
    alert = get_object_or_404(Alert, pk=pk)
    now = timezone.now()
    key = f"alerts:chart:{alert.pk}:{_chart_version(alert, now=now)}"
    png = cache.get_or_set(key, lambda: render_chart(alert, now=now), CHART_CACHE_SECONDS)
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = "private, max-age=60"
    return response


class AcknowledgeView(_PageView):
    """Acknowledge a firing alert (operator); a stale page gets a message and no change."""

    role = Role.OPERATOR
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        return _transition(request, pk, acknowledge_alert, "acknowledged")


class ResolveView(_PageView):
    """Resolve an open alert (operator); an already resolved one gets a message, no change."""

    role = Role.OPERATOR
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        return _transition(request, pk, resolve_alert, "resolved")


def _transition(request: HttpRequest, pk: int, change: Any, verb: str) -> HttpResponse:
    alert = get_object_or_404(Alert, pk=pk)
    try:
        change(alert=alert, user=request.user)
    except InvalidTransition as exc:
        messages.warning(request, f"Alert #{alert.pk} was not {verb}: {exc.message} {_stale()}")
    else:
        messages.success(request, f"Alert #{alert.pk} {verb}.")
    return _back(request, reverse("alert-page", args=[alert.pk]))


def _stale() -> str:
    return "Nothing was changed; the page now shows its current state."


def _back(request: HttpRequest, default: str) -> HttpResponseRedirect:
    """To ``next`` when it is a page of this site, else to ``default``."""
    target = request.POST.get("next", "")
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return HttpResponseRedirect(target if target.startswith("/") and allowed else default)


class SilenceView(_PageView):
    """``/alerts/<id>/silence/``: a silence of the alert's labels, prefilled (two clicks)."""

    role = Role.OPERATOR
    http_method_names = ["get", "post"]

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        alert = get_object_or_404(Alert, pk=pk)
        initial = silence_initial(alert, username=request.user.get_username())
        return _silence_page(request, alert, SilenceForm(initial=initial, alert=alert))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        return create_from_alert(request, get_object_or_404(Alert, pk=pk))


def create_from_alert(request: HttpRequest, alert: Alert) -> HttpResponse:
    """Create the silence the form describes (``create_silence``: the API's and admin's too)."""
    form = SilenceForm(request.POST, alert=alert)
    if not form.is_valid():
        return _silence_page(request, alert, form, status=400)
    now = timezone.now()
    try:
        made = create_silence(
            matchers=form.matchers(),
            starts_at=now,
            ends_at=now + form.duration(),
            comment=form.cleaned_data["comment"],
            user=request.user,
            now=now,
        )
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            form.add_error(None, f"{field}: {' '.join(errors)}")
        return _silence_page(request, alert, form, status=400)
    messages.success(
        request,
        f"Silence #{made.pk} created until {datetime_text(made.ends_at)}: {made.matchers_text()}.",
    )
    return HttpResponseRedirect(reverse("alert-page", args=[alert.pk]))


def _silence_page(
    request: HttpRequest, alert: Alert, form: SilenceForm, *, status: int = 200
) -> HttpResponse:
    context = _context(request, nav_here="alerts", alert=alert, form=form)
    return render(request, "alerts/pages/silence.html", context, status=status)


class RuleListView(_PageView):
    """``/rules/``: each rule's current value against its threshold, and its last state."""

    def get(self, request: HttpRequest) -> HttpResponse:
        return rule_list(request)


def rule_list(request: HttpRequest) -> HttpResponse:
    rows = [_rule_row(rule) for rule in rules_overview()]
    context = _context(request, nav_here="rules", rules=rows)
    return render(request, "alerts/pages/rules.html", context)


def _rule_row(rule: Rule) -> dict[str, Any]:
    """A rule as the rules page shows it: the value and whether it crosses the threshold now."""
    value = rule.last_value
    return {
        "rule": rule,
        "value": format_number(value) if value is not None else "no data",
        "threshold": f"{rule.operator} {format_number(rule.threshold)}",
        "crossing": rule.holds(value) if not rule.builtin else None,
        "last_state": getattr(rule, "last_state", None),
        "last_alert_id": getattr(rule, "last_alert_id", None),
        "last_at": getattr(rule, "last_resolved_at", None)
        or getattr(rule, "last_started_at", None),
    }
