"""``POST /api/alerts/test`` (admin): a synthetic alert through the whole notification pipeline."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts.models import Notification, NotificationChannel
from alerts.notifications.outbox import send_synthetic_alert
from monitoring_site.api.permissions import IsAdmin


class SyntheticAlertRequestSerializer(serializers.Serializer):
    """Optionally, the names of the channels to test (default: every enabled channel)."""

    channels = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, max_length=100
    )

    def validate_channels(self, names: list[str]) -> list[str]:
        known = set(
            NotificationChannel.objects.filter(name__in=names).values_list("name", flat=True)
        )
        unknown = sorted(set(names) - known)
        if unknown:
            raise serializers.ValidationError(f"Unknown channel(s): {', '.join(unknown)}.")
        return names

    def selected(self) -> list[NotificationChannel]:
        names = self.validated_data.get("channels")
        rows = NotificationChannel.objects.order_by("pk")
        if names is None:
            return list(rows.filter(enabled=True))
        chosen = list(rows.filter(name__in=names))
        disabled = sorted(c.name for c in chosen if not c.enabled)
        if disabled:
            raise serializers.ValidationError(
                {"channels": [f"Disabled channel(s): {', '.join(disabled)}."]}
            )
        return chosen


class NotificationRowSerializer(serializers.ModelSerializer):
    channel = serializers.CharField(source="channel.name")
    channel_kind = serializers.CharField(source="channel.kind")

    class Meta:
        model = Notification
        fields = ["id", "channel", "channel_kind", "kind", "state", "due_at"]


class SyntheticAlertResponseSerializer(serializers.Serializer):
    alert = serializers.IntegerField(help_text="The synthetic alert (source self, closed at once).")
    fingerprint = serializers.CharField()
    notifications = NotificationRowSerializer(many=True)


class SyntheticAlertView(APIView):
    """Queue a test message to each (or each named) channel; dispatchers deliver it at once."""

    permission_classes = [IsAdmin]
    serializer_class = SyntheticAlertRequestSerializer

    @extend_schema(
        request=SyntheticAlertRequestSerializer,
        responses={202: SyntheticAlertResponseSerializer},
        tags=["alerts"],
    )
    def post(self, request: Request) -> Response:
        body = SyntheticAlertRequestSerializer(data=request.data or {})
        body.is_valid(raise_exception=True)
        channels = body.selected()
        if not channels:
            raise serializers.ValidationError(
                {"channels": ["No enabled notification channel is configured."]}
            )
        alert, rows = send_synthetic_alert(user=request.user, channels=channels)
        data: dict[str, Any] = {
            "alert": alert.pk,
            "fingerprint": alert.fingerprint,
            "notifications": NotificationRowSerializer(rows, many=True).data,
        }
        return Response(data, status=status.HTTP_202_ACCEPTED)
