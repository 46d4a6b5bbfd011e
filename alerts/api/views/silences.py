"""Silences (operators write) and maintenance windows (admins write); viewers read both.

Views validate, call a service in ``alerts.silences.services``, serialize. Bad input answers
400 naming the field; expiring what already ended answers 409.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts.api.fields import DurationSecondsField
from alerts.models import MaintenanceWindow, Silence
from alerts.models.silences import API_FIELDS, MATCH_OPS, NO_END, SERVICE_SLUG_RE, State
from alerts.silences import services as silences
from monitoring_site.api.errors import Conflict
from monitoring_site.api.params import DateTimeField, path_id
from monitoring_site.api.permissions import IsAdmin, IsOperator, IsViewer
from monitoring_site.api.schema import error_responses
from monitoring_site.roles import Role, has_role


class ViewerReadsOperatorWrites(BasePermission):
    """Viewers read; creating and expiring silences needs the operator role."""

    message = "Reading needs the viewer role; silencing needs the operator role."

    def has_permission(self, request: Request, view: Any) -> bool:
        needed = Role.VIEWER if request.method in SAFE_METHODS else Role.OPERATOR
        return has_role(request.user, needed)


class ViewerReadsAdminWrites(ViewerReadsOperatorWrites):
    message = "Reading needs the viewer role; maintenance windows need the admin role."

    def has_permission(self, request: Request, view: Any) -> bool:
        needed = Role.VIEWER if request.method in SAFE_METHODS else Role.ADMIN
        return has_role(request.user, needed)


class MatcherSerializer(serializers.Serializer):
    """For the schema: one label matcher (the service checks the list as a whole)."""

    name = serializers.CharField(help_text="A label, or alertname, severity, source.")
    op = serializers.ChoiceField(choices=MATCH_OPS, default="=")
    value = serializers.CharField(allow_blank=True, help_text="Regexes are fully anchored.")


class _WindowSerializer(serializers.ModelSerializer):
    state = serializers.SerializerMethodField()
    created_by = serializers.CharField(source="created_by.username", default=None)
    expired_by = serializers.CharField(source="expired_by.username", default=None)

    def get_state(self, row: Silence | MaintenanceWindow) -> str:
        return row.state(self.context.get("now") or timezone.now())


class SilenceSerializer(_WindowSerializer):
    matchers = MatcherSerializer(many=True)
    matchers_text = serializers.CharField(read_only=True)

    class Meta:
        model = Silence
        fields = [
            "id",
            "state",
            "matchers",
            "matchers_text",
            "starts_at",
            "ends_at",
            "comment",
            "created_by",
            "created_at",
            "expired_at",
            "expired_by",
        ]
        read_only_fields = fields


class OccurrenceSerializer(serializers.Serializer):
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()


class MaintenanceWindowSerializer(_WindowSerializer):
    duration = DurationSecondsField(source="duration_seconds", allow_null=True, read_only=True)
    ends_at = serializers.SerializerMethodField()
    next_occurrences = serializers.SerializerMethodField()

    class Meta:
        model = MaintenanceWindow
        fields = [
            "id",
            "state",
            "name",
            "services",
            "starts_at",
            "ends_at",
            "recurrence",
            "duration",
            "time_zone",
            "next_occurrences",
            "comment",
            "created_by",
            "created_at",
            "expired_at",
            "expired_by",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_ends_at(self, row: MaintenanceWindow) -> str | None:
        """Null for a recurring window that repeats until it is expired."""
        return (
            None
            if row.ends_at == NO_END
            else serializers.DateTimeField().to_representation(row.ends_at)
        )

    @extend_schema_field(OccurrenceSerializer(many=True))
    def get_next_occurrences(self, row: MaintenanceWindow) -> list[dict[str, Any]]:
        """The next three intervals (the one in force first)."""
        now = self.context.get("now") or timezone.now()
        rows = [{"starts_at": a, "ends_at": b} for a, b in row.next_occurrences(now)]
        return list(OccurrenceSerializer(rows, many=True).data)


@extend_schema_field(MatcherSerializer(many=True))
class MatchersField(serializers.JSONField):
    """The matchers as sent: the service checks the list as a whole (and names the matcher)."""


class SilenceCreateSerializer(serializers.Serializer):
    matchers = MatchersField(help_text='[{"name": "service", "op": "=", "value": "x"}]')
    starts_at = DateTimeField(required=False, allow_null=True)
    ends_at = DateTimeField()
    comment = serializers.CharField(max_length=2000)


class MaintenanceWindowCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    services = serializers.ListField(
        child=serializers.RegexField(SERVICE_SLUG_RE, max_length=64), min_length=1
    )
    starts_at = DateTimeField(required=False, allow_null=True)
    ends_at = DateTimeField(
        required=False, allow_null=True, help_text="Required for a one-off window."
    )
    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    recurrence = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        help_text='A cron expression ("0 2 * * 0": Sundays at 02:00); empty: one-off.',
    )
    duration = DurationSecondsField(
        required=False, allow_null=True, help_text="Each occurrence's length (at most 7 days)."
    )
    time_zone = serializers.CharField(
        max_length=64, required=False, default="UTC", help_text="e.g. Europe/London."
    )


def _created(call: Any, **data: Any) -> Any:
    try:
        return call(**data)
    except DjangoValidationError as exc:
        detail = (
            {API_FIELDS.get(key, key): value for key, value in exc.message_dict.items()}
            if hasattr(exc, "error_dict")
            else {"non_field_errors": exc.messages}
        )
        raise serializers.ValidationError(detail) from None


def _states(request: Request) -> list[str] | None:
    raw = request.query_params.get("state")
    if not raw:
        return None
    values = [item.strip() for item in raw.split(",") if item.strip()]
    unknown = [item for item in values if item not in State.values]
    if unknown:
        raise serializers.ValidationError(
            {"state": [f"Unknown state {', '.join(unknown)}; expected {', '.join(State.values)}."]}
        )
    return values


def by_state(queryset: QuerySet, states: list[str] | None, now: Any) -> QuerySet:
    """Rows in any of ``states`` (pending, active, expired) at ``now``."""
    if not states:
        return queryset
    conditions = {
        State.PENDING: Q(starts_at__gt=now),
        State.ACTIVE: Q(starts_at__lte=now, ends_at__gt=now),
        State.EXPIRED: Q(ends_at__lte=now),
    }
    combined = Q()
    for state in states:
        combined |= conditions[State(state)]
    if queryset.model is not MaintenanceWindow:
        return queryset.filter(combined)
    # A recurring window's state depends on its occurrences: one-offs are filtered in SQL,
    # recurring ones (few) in Python.
    recurring = [row.pk for row in queryset.exclude(recurrence="") if row.state(now) in states]
    return queryset.filter(combined, recurrence="") | queryset.filter(pk__in=recurring)


_STATE_PARAMETER = OpenApiParameter("state", str, description="pending, active, expired (comma)")


class _ListCreate(generics.ListCreateAPIView):
    model: type[Silence] | type[MaintenanceWindow]
    create_serializer: type[serializers.Serializer]

    def get_queryset(self) -> QuerySet:
        rows = self.model.objects.select_related("created_by", "expired_by")
        return by_state(rows, _states(self.request), timezone.now()).order_by("-starts_at", "-pk")

    def create_row(self, data: dict[str, Any], request: Request) -> Any:
        raise NotImplementedError

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = self.create_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        row = self.create_row({"starts_at": None, **body.validated_data}, request)
        return Response(self.get_serializer(row).data, status=status.HTTP_201_CREATED)


class SilenceListView(_ListCreate):
    """``GET/POST /api/v1/monitoring/silences``: list (``?state=active``) or create a silence."""

    permission_classes = [ViewerReadsOperatorWrites]
    serializer_class = SilenceSerializer
    model = Silence
    create_serializer = SilenceCreateSerializer

    @extend_schema(parameters=[_STATE_PARAMETER])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(request=SilenceCreateSerializer, responses={201: SilenceSerializer})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().post(request, *args, **kwargs)

    def create_row(self, data: dict[str, Any], request: Request) -> Silence:
        return _created(silences.create_silence, user=request.user, **data)


class MaintenanceWindowListView(_ListCreate):
    """``GET/POST /api/v1/monitoring/maintenance-windows``: list or create (admins)."""

    permission_classes = [ViewerReadsAdminWrites]
    serializer_class = MaintenanceWindowSerializer
    model = MaintenanceWindow
    create_serializer = MaintenanceWindowCreateSerializer

    @extend_schema(parameters=[_STATE_PARAMETER])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=MaintenanceWindowCreateSerializer, responses={201: MaintenanceWindowSerializer}
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().post(request, *args, **kwargs)

    def create_row(self, data: dict[str, Any], request: Request) -> MaintenanceWindow:
        data.setdefault("comment", "")
        data.setdefault("ends_at", None)
        data["duration_seconds"] = data.pop("duration", None)
        return _created(silences.create_maintenance_window, user=request.user, **data)


def _get(model: type[Silence] | type[MaintenanceWindow], pk: str) -> Any:
    row = model.objects.select_related("created_by", "expired_by").filter(pk=path_id(pk)).first()
    if row is None:
        raise Http404
    return row


class SilenceDetailView(APIView):
    """``GET /api/v1/monitoring/silences/<id>``."""

    permission_classes = [IsViewer]

    @extend_schema(responses=SilenceSerializer)
    def get(self, request: Request, pk: str) -> Response:
        return Response(SilenceSerializer(_get(Silence, pk)).data)


class MaintenanceWindowDetailView(APIView):
    """``GET /api/v1/monitoring/maintenance-windows/<id>``."""

    permission_classes = [IsViewer]

    @extend_schema(responses=MaintenanceWindowSerializer)
    def get(self, request: Request, pk: str) -> Response:
        return Response(MaintenanceWindowSerializer(_get(MaintenanceWindow, pk)).data)


class SilenceExpireView(APIView):
    """``POST /api/v1/monitoring/silences/<id>/expire``: end it now (409 if it already ended)."""

    permission_classes = [IsOperator]

    @extend_schema(
        request=None, responses={200: SilenceSerializer}, extensions=error_responses(409)
    )
    def post(self, request: Request, pk: str) -> Response:
        try:
            row = silences.expire_silence(silence=_get(Silence, pk), user=request.user)
        except silences.AlreadyExpired as exc:
            raise Conflict(str(exc), details={"state": State.EXPIRED}) from None
        return Response(SilenceSerializer(row).data)


class MaintenanceWindowExpireView(APIView):
    """``POST /api/v1/monitoring/maintenance-windows/<id>/expire`` (admins)."""

    permission_classes = [IsAdmin]

    @extend_schema(
        request=None, responses={200: MaintenanceWindowSerializer}, extensions=error_responses(409)
    )
    def post(self, request: Request, pk: str) -> Response:
        window = _get(MaintenanceWindow, pk)
        try:
            row = silences.expire_maintenance_window(window=window, user=request.user)
        except silences.AlreadyExpired as exc:
            raise Conflict(str(exc), details={"state": State.EXPIRED}) from None
        return Response(MaintenanceWindowSerializer(row).data)
