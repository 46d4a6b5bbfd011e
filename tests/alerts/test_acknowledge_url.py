"""The original service's acknowledge URL: ``/api/alerts/acknowledge/alert-<id>`` and ``<id>``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from alerts.engine.lifecycle import apply_evaluation
from alerts.models import Alert, Rule
from tests.alerts.conftest import vector

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _frozen(clock: Any) -> Any:
    """The clock stops before any token is issued (a token from the future is refused)."""
    return clock


@pytest.fixture
def firing(make_rule: Callable[..., Rule], clock: Any) -> Alert:
    rule = make_rule(name="Queue Backup", slug="queue-backup", for_seconds=0, severity="error")
    apply_evaluation(rule=rule, result=vector(({"service": "payment"}, 500)), now=timezone.now())
    return Alert.objects.get(rule=rule)


@pytest.mark.parametrize("form", ["alert-{id}", "alert-{id}/", "{id}", "{id}/"])
def test_the_original_id_form_and_the_plain_id_both_acknowledge_the_alert(
    operator_client: APIClient, firing: Alert, form: str
) -> None:
    response = operator_client.post("/api/alerts/acknowledge/" + form.format(id=firing.pk))

    assert response.status_code == 200, response.content[:300]
    assert (response.json()["id"], response.json()["state"]) == (firing.pk, "acknowledged")
    assert Alert.objects.get(pk=firing.pk).acknowledged_by_name == "otto-operator"


@pytest.mark.parametrize(
    "tail",
    [
        "alert-",
        "alert-abc",
        "alert--{id}",
        "Alert-{id}",
        "alerts-{id}",
        "incident-{id}",
        "alert-{id}x",
        "alert-٣",  # an Arabic-Indic digit: \d would take it, ids are ASCII digits only
        "{id}-alert",
        "alert-{id}/resolve",
    ],
)
def test_any_other_form_is_a_json_404_and_acknowledges_nothing(
    operator_client: APIClient, firing: Alert, tail: str
) -> None:
    response = operator_client.post("/api/alerts/acknowledge/" + tail.format(id=firing.pk))

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert Alert.objects.get(pk=firing.pk).state == "firing"


def test_an_unknown_alert_in_the_original_form_is_a_json_404(operator_client: APIClient) -> None:
    response = operator_client.post("/api/alerts/acknowledge/alert-999999")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_viewer_may_not_acknowledge_through_the_original_form(
    viewer_client: APIClient, firing: Alert
) -> None:
    response = viewer_client.post(f"/api/alerts/acknowledge/alert-{firing.pk}")

    assert response.status_code == 403
    assert Alert.objects.get(pk=firing.pk).state == "firing"
