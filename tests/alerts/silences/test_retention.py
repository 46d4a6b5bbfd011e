from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from alerts.models import Silence
from monitoring_site.bootstrap import seed_roles
from monitoring_site.jobs import run_cleanups

pytestmark = pytest.mark.django_db


def test_cleanup_prunes_silences_ended_longer_ago_than_alert_retention(
    silence: Callable[..., Silence], settings: Any
) -> None:
    settings.ALERT_RETENTION_DAYS = 90
    old = silence(("service", "=", "payment"), minutes=30)
    recent = silence(("service", "=", "ticket"), minutes=30)
    Silence.objects.filter(pk=old.pk).update(ends_at=timezone.now() - timedelta(days=91))
    Silence.objects.filter(pk=recent.pk).update(ends_at=timezone.now() - timedelta(days=89))

    removed = run_cleanups()

    assert removed["ended silences"] == 1
    assert list(Silence.objects.values_list("pk", flat=True)) == [recent.pk]


def test_bootstrap_lets_operators_create_and_expire_silences() -> None:
    seed_roles(lambda line: None)

    codenames = set(
        Group.objects.get(name="operator").permissions.values_list("codename", flat=True)
    )

    assert {"add_silence", "change_silence", "view_silence"} <= codenames
    assert "add_maintenancewindow" not in codenames
