"""The API says what it does: answers the fuzzer (bin/fuzz-api) found outside the OpenAPI schema,
each checked here with schemathesis' own validation: the status is documented for the operation
and the body matches the documented schema."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import requests
import schemathesis
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from alerts.models import Alert, Rule
from health.models import CheckResult, Service
from health.services import rollup_hours

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def raw_schema(django_db_blocker: Any) -> dict[str, Any]:
    with django_db_blocker.unblock():
        return Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


def conforms(raw_schema: dict[str, Any], template: str, response: Any) -> None:
    """The status is documented for the operation and the body matches its schema."""
    method = response.request["REQUEST_METHOD"]
    documented = raw_schema["paths"][template][method.lower()]["responses"]
    assert str(response.status_code) in documented, (response.status_code, sorted(documented))
    operation = schemathesis.openapi.from_dict(raw_schema)[template][method]
    url = "http://testserver" + response.request["PATH_INFO"]
    wrapped = schemathesis.Response(
        status_code=response.status_code,
        headers={name: [value] for name, value in response.items()},
        content=response.content,
        request=requests.Request(method, url).prepare(),
        elapsed=0.0,
        verify=True,
    )
    operation.validate_response(wrapped)


@pytest.fixture
def never_probed(make_service: Callable[..., Service]) -> Service:
    return make_service("fresh", "http://127.0.0.1:9")


@pytest.fixture
def make_service(db: Any) -> Callable[..., Service]:
    def make(slug: str, target: str, **fields: Any) -> Service:
        return Service.objects.create(slug=slug, name=slug.title(), target=target, **fields)

    return make


SERVICES = "/api/v1/monitoring/services/"


def test_a_service_that_was_never_probed_matches_the_service_schema(
    raw_schema: dict[str, Any], viewer_client: APIClient, never_probed: Service
) -> None:
    listing = viewer_client.get(SERVICES)
    assert listing.json()["results"][0]["last_outcome"] == ""
    conforms(raw_schema, SERVICES, listing)
    conforms(raw_schema, SERVICES + "{id}/", viewer_client.get(f"{SERVICES}{never_probed.pk}/"))


@pytest.mark.parametrize("resolution", ["raw", "hour"])
def test_the_service_history_matches_its_own_schema(
    raw_schema: dict[str, Any], viewer_client: APIClient, never_probed: Service, resolution: str
) -> None:
    now = timezone.now()
    CheckResult.objects.create(
        service=never_probed, checked_at=now - timedelta(minutes=5), outcome="up", latency_ms=4.0
    )
    CheckResult.objects.create(
        service=never_probed, checked_at=now - timedelta(minutes=4), outcome="down", error="boom"
    )
    rollup_hours(start=now - timedelta(hours=2))

    response = viewer_client.get(
        f"{SERVICES}{never_probed.pk}/history/", {"resolution": resolution}
    )

    assert response.status_code == 200
    assert response.json()["points"]
    conforms(raw_schema, SERVICES + "{id}/history/", response)


@pytest.mark.parametrize(
    ("template", "query"),
    [
        ("/api/business-metrics/", {"window": "AAA"}),
        ("/api/v1/metrics/series/", {"label": "no-equals-sign"}),
        ("/api/v1/metrics/query/", {"series": "x"}),
        ("/api/v1/monitoring/jobs/runs/", {"outcome": "sideways"}),
        ("/api/v1/monitoring/silences/", {"state": "sideways"}),
        ("/api/v1/monitoring/maintenance-windows/", {"state": "sideways"}),
        ("/api/v1/monitoring/alerts/", {"since": "yesterday"}),
    ],
)
def test_a_bad_query_parameter_is_a_documented_400(
    raw_schema: dict[str, Any], viewer_client: APIClient, template: str, query: dict[str, str]
) -> None:
    response = viewer_client.get(template, query)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    conforms(raw_schema, template, response)


def test_a_bad_history_time_is_a_documented_400(
    raw_schema: dict[str, Any], viewer_client: APIClient, never_probed: Service
) -> None:
    response = viewer_client.get(f"{SERVICES}{never_probed.pk}/history/", {"from": "soon"})

    assert response.status_code == 400
    conforms(raw_schema, SERVICES + "{id}/history/", response)


def test_a_series_query_naming_no_series_is_a_documented_404(
    raw_schema: dict[str, Any], viewer_client: APIClient
) -> None:
    response = viewer_client.get("/api/v1/metrics/query/", {"series": "999999"})

    assert response.status_code == 404
    conforms(raw_schema, "/api/v1/metrics/query/", response)


def test_deleting_the_built_in_rule_is_a_documented_409(
    raw_schema: dict[str, Any], admin_client_api: APIClient
) -> None:
    builtin = Rule.objects.create(
        name="Service down", slug="service-down", expression="", builtin=True, channels=[]
    )

    response = admin_client_api.delete(f"/api/v1/monitoring/alerts/rules/{builtin.pk}/")

    assert response.status_code == 409
    conforms(raw_schema, "/api/v1/monitoring/alerts/rules/{id}/", response)


def test_resolving_a_resolved_alert_is_a_documented_409(
    raw_schema: dict[str, Any], operator_client: APIClient
) -> None:
    rule = Rule.objects.create(name="Queue", expression="sum(queue_size)", channels=[])
    alert = Alert.objects.create(
        rule=rule,
        source=Alert.Source.RULE,
        fingerprint="f" * 16,
        labels={},
        state=Alert.State.RESOLVED,
        started_at=timezone.now(),
        resolved_at=timezone.now(),
    )

    for template in (
        "/api/v1/monitoring/alerts/{id}/resolve/",
        "/api/v1/monitoring/alerts/{id}/acknowledge/",
        "/api/alerts/acknowledge/{id}/",
    ):
        response = operator_client.post(template.replace("{id}", str(alert.pk)))
        assert response.status_code == 409
        conforms(raw_schema, template, response)


def test_expiring_an_ended_silence_is_a_documented_409(
    raw_schema: dict[str, Any], operator_client: APIClient
) -> None:
    created = operator_client.post(
        "/api/v1/monitoring/silences/",
        {
            "matchers": [{"name": "service", "op": "=", "value": "payment"}],
            "ends_at": (timezone.now() + timedelta(hours=1)).isoformat(),
            "comment": "deploy",
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    expire = f"/api/v1/monitoring/silences/{created.json()['id']}/expire/"
    assert operator_client.post(expire).status_code == 200

    response = operator_client.post(expire)

    assert response.status_code == 409
    conforms(raw_schema, "/api/v1/monitoring/silences/{id}/expire/", response)


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/api/v1/monitoring/jobs/runs/?job=%00x", "job"),
        ("/api/v1/monitoring/alerts/?service=a%00", "service"),
        ("/api/v1/metrics/series/?metric=%00", "metric"),
        ("/api/v1/monitoring/services/?tag=ok&x%00=1", "x\\0"),
    ],
)
def test_a_nul_in_a_query_parameter_is_a_400_naming_it(
    viewer_client: APIClient, path: str, name: str
) -> None:
    """Found by bin/fuzz-api: ``?job=%00`` reached PostgreSQL and answered 500."""
    response = viewer_client.get(path)

    assert response.status_code == 400
    assert response.json()["details"] == {name: ["NUL characters are not allowed."]}


def test_a_nul_in_the_admin_search_is_a_400(client: Client, admin: Any) -> None:
    client.force_login(admin)

    response = client.get("/admin/health/service/?q=%00")

    assert response.status_code == 400
    assert response.content == b"q: NUL characters are not allowed."


def test_a_url_longer_than_gunicorn_accepts_is_a_documented_414(
    raw_schema: dict[str, Any],
) -> None:
    """Found by bin/fuzz-api: gunicorn refuses a request line over 4094 bytes before Django."""
    responses = raw_schema["paths"]["/api/v1/monitoring/maintenance-windows/"]["get"]["responses"]
    assert "content" not in responses["414"]  # gunicorn's own page, not the JSON error shape
    create = raw_schema["paths"]["/api/v1/monitoring/maintenance-windows/"]["post"]["responses"]
    assert "414" not in create  # no parameter in the URL, no long URL to refuse
