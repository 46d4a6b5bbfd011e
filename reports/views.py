"""The report pages (viewer login): the list, one day, and its chart images."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.cache import never_cache

from health.auth import LOGIN_URL
from monitoring_site.roles import Role, has_role
from reports.charts import CHARTS, render_chart
from reports.models import Report
from reports.services import ReportDateError, parse_report_date

LIST_LIMIT = 400
# Drawing a chart takes a few hundred milliseconds; a stored report's charts never change until it
# is made again (the key holds when it was made).
CHART_CACHE_SECONDS = 3600


def _denied(request: HttpRequest) -> HttpResponse | None:
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), login_url=LOGIN_URL)
    if not has_role(request.user, Role.VIEWER):
        return HttpResponse("This needs the viewer role.", status=403, content_type="text/plain")
    return None


def _report(day: str) -> Report:
    try:
        wanted = parse_report_date(day)
    except ReportDateError as exc:
        raise Http404(str(exc)) from None
    return get_object_or_404(Report, day=wanted)


@never_cache
def report_list(request: HttpRequest) -> HttpResponse:
    denied = _denied(request)
    if denied:
        return denied
    reports = Report.objects.order_by("-day")[:LIST_LIMIT]
    context = {
        "reports": reports,
        "report_time": settings.REPORT_TIME,
        "time_zone": settings.TIME_ZONE,
    }
    return render(request, "reports/list.html", context)


@never_cache
def report_page(request: HttpRequest, day: str) -> HttpResponse:
    denied = _denied(request)
    if denied:
        return denied
    report = _report(day)
    charts = {name: reverse("report-chart", args=[day, name]) for name in CHARTS}
    return render(request, "reports/detail.html", {"report": report.data, "charts": charts})


def report_chart(request: HttpRequest, day: str, name: str) -> HttpResponse:
    denied = _denied(request)
    if denied:
        return denied
    if name not in CHARTS:
        raise Http404(f"chart: expected one of {', '.join(CHARTS)}.")
    report = _report(day)
    key = f"reports:chart:{report.day}:{report.generated_at.timestamp()}:{name}"
    png = cache.get_or_set(key, lambda: render_chart(name, report.data), CHART_CACHE_SECONDS)
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = "private, max-age=300"
    return response
