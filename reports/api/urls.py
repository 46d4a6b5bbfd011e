from __future__ import annotations

from monitoring_site.api.routing import api_path
from reports.api.views import ReportDetailView

urlpatterns = [
    api_path("reports/<str:day>", ReportDetailView.as_view(), name="report-api-detail"),
]
