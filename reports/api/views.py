"""``GET /api/v1/monitoring/reports/<date>``: a stored report's figures as JSON."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from monitoring_site.api.errors import CodedValidationError
from monitoring_site.api.permissions import IsViewer
from monitoring_site.api.schema import error_responses
from reports.models import Report
from reports.services import ReportDateError, parse_report_date


class ReportDetailView(APIView):
    """The report of one day (``YYYY-MM-DD`` in ``TIME_ZONE``): every figure the page shows."""

    permission_classes = (IsViewer,)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "day",
                str,
                OpenApiParameter.PATH,
                description="A day that has ended, YYYY-MM-DD on the clock of TIME_ZONE.",
                pattern=r"^\d{4}-\d{2}-\d{2}$",
            )
        ],
        responses={200: OpenApiTypes.OBJECT},
        extensions=error_responses(400),
    )
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
