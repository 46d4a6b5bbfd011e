"""``GET /api/v1/monitoring/reports/<date>``: a stored report's figures as JSON."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from monitoring_site.api.errors import CodedValidationError
from monitoring_site.api.permissions import IsViewer
from reports.models import Report
from reports.services import ReportDateError, parse_report_date


class ReportDetailView(APIView):
    """The report of one day (``YYYY-MM-DD`` in ``TIME_ZONE``): every figure the page shows."""

    permission_classes = (IsViewer,)

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, day: str) -> Response:
        try:
            wanted = parse_report_date(day)
        except ReportDateError as exc:
            raise CodedValidationError(
                str(exc), code="invalid", details={"date": [str(exc).removeprefix("date: ")]}
            ) from None
        report = Report.objects.filter(day=wanted).first()
        if report is None:
            raise NotFound(f"No report for {wanted} yet.")
        return Response(report.data)
