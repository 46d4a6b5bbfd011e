"""Every alert engine endpoint against every role: who may read, act and write."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from alerts.engine import apply_evaluation
from alerts.models import Alert, Rule
from tests.alerts.conftest import scalar

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "nobody", "viewer", "operator", "admin")
R = "/api/v1/monitoring/alerts"
NEW_RULE = {"name": "New", "expression": "max(queue_size)", "threshold": 5, "for": "2m"}
# (method, path, body, expected status for anonymous, nobody, viewer, operator, admin)
ENDPOINTS: list[tuple[str, str, Any, tuple[int, ...]]] = [
    ("get", "/api/alerts", None, (401, 403, 200, 200, 200)),
    ("get", R, None, (401, 403, 200, 200, 200)),
    ("get", R + "/{alert}", None, (401, 403, 200, 200, 200)),
    ("post", R + "/{alert}/acknowledge", None, (401, 403, 403, 200, 200)),
    ("post", "/api/alerts/acknowledge/{alert}", None, (401, 403, 403, 200, 200)),
    ("post", R + "/{alert}/resolve", None, (401, 403, 403, 200, 200)),
    ("get", R + "/rules", None, (401, 403, 200, 200, 200)),
    ("get", R + "/rules/{rule}", None, (401, 403, 200, 200, 200)),
    ("post", R + "/rules", NEW_RULE, (401, 403, 403, 403, 201)),
    ("patch", R + "/rules/{rule}", {"threshold": 7}, (401, 403, 403, 403, 200)),
    ("put", R + "/rules/{rule}", NEW_RULE, (401, 403, 403, 403, 200)),
    ("delete", R + "/rules/{rule}", None, (401, 403, 403, 403, 204)),
    ("post", R + "/rules/{rule}/preview?range=1h", None, (401, 403, 200, 200, 200)),
]


@pytest.fixture
def client_as(
    clock: Any, client_for: Callable[[Any], APIClient], make_user: Callable[..., Any]
) -> Callable[[str], APIClient]:
    """An API client of a user holding ``role`` (``anonymous``: no credentials)."""
    from monitoring_site.roles import Role

    def make(role: str) -> APIClient:
        if role == "anonymous":
            return APIClient()
        granted = None if role == "nobody" else Role[role.upper()]
        return client_for(make_user(f"user-{role}", granted))

    return make


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    ENDPOINTS,
    ids=[f"{method} {path}" for method, path, _, _ in ENDPOINTS],
)
@pytest.mark.parametrize("role", ROLES)
def test_each_endpoint_answers_each_role_as_its_role_allows(
    client_as: Callable[[str], APIClient],
    make_rule: Callable[..., Rule],
    role: str,
    method: str,
    path: str,
    body: Any,
    expected: tuple[int, ...],
) -> None:
    rule = make_rule(for_seconds=60)
    apply_evaluation(rule=rule, result=scalar(500), now=timezone.now())
    alert = Alert.objects.get(rule=rule)
    Alert.objects.filter(pk=alert.pk).update(state="firing", fired_at=timezone.now())
    url = path.format(alert=alert.pk, rule=rule.pk)
    response = getattr(client_as(role), method)(url, body, format="json")
    assert response.status_code == expected[ROLES.index(role)], response.content[:300]
    if response.status_code in (401, 403):
        assert response.json()["code"] in ("not_authenticated", "permission_denied")
