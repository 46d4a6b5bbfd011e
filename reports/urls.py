from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path

from reports import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("reports/", views.report_list, name="report-list"),
    path("reports/<str:day>/", views.report_page, name="report-page"),
    path("reports/<str:day>/charts/<str:name>.png", views.report_chart, name="report-chart"),
    path("api/v1/monitoring/", include("reports.api.urls")),
]
