"""Facts alerts owns reach health through health.hooks: open alerts, maintenance windows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import Alert, MaintenanceWindow
from alerts.models.alerts import fingerprint_for
from health import hooks

pytestmark = pytest.mark.django_db


def test_health_reads_the_open_alerts_alerts_provides_most_severe_first() -> None:
    now = timezone.now()
    for severity, state in [("warning", "firing"), ("critical", "firing"), ("error", "resolved")]:
        Alert.objects.create(
            source=Alert.Source.RULE,
            fingerprint=fingerprint_for(Alert.Source.RULE, severity, {}),
            rule_name=f"{severity} rule",
            severity=severity,
            state=state,
            started_at=now - timedelta(minutes=5),
        )

    found = hooks.facts(hooks.OPEN_ALERTS, now)

    assert [(fact["rule"], fact["severity"]) for fact in found] == [
        ("critical rule", "critical"),
        ("warning rule", "warning"),
    ]


def test_health_reads_the_maintenance_windows_in_force() -> None:
    now = timezone.now()
    current = MaintenanceWindow.objects.create(
        name="db upgrade",
        services=["auth-service"],
        starts_at=now - timedelta(minutes=1),
        ends_at=now + timedelta(hours=1),
    )
    MaintenanceWindow.objects.create(
        name="later",
        services=["auth-service"],
        starts_at=now + timedelta(days=1),
        ends_at=now + timedelta(days=2),
    )

    found = hooks.facts(hooks.MAINTENANCE_WINDOWS, now)

    assert found == [
        {
            "id": current.pk,
            "name": "db upgrade",
            "services": ["auth-service"],
            "ends_at": current.ends_at,
        }
    ]


def test_a_fact_without_provider_is_empty_and_a_failing_provider_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert hooks.facts("nobody provides this", timezone.now()) == []

    def broken(now: object) -> list[dict[str, object]]:
        raise RuntimeError("boom")

    hooks.register_fact_provider("broken", broken)
    try:
        assert hooks.facts("broken", timezone.now()) == []
    finally:
        hooks.unregister_fact_provider("broken")
    assert "fact provider failed" in caplog.text
