"""``POST /api/v1/monitoring/alerts/rules/test``: operators run rule test files over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from alerts.models import Rule
from tests.support.tsdb import free_port

pytestmark = pytest.mark.django_db
URL = "/api/v1/monitoring/alerts/rules/test"
FILES = Path(__file__).parent / "files"


@pytest.fixture
def client(client_for: Callable[[User], APIClient], operator: User) -> APIClient:
    return client_for(operator)


def test_a_passing_file_sent_as_yaml_answers_passed(client: APIClient) -> None:
    body = (FILES / "queue_passing.yaml").read_bytes()
    response = client.post(URL, body, content_type="application/yaml")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["passed"] is True
    assert [(t["name"], t["passed"]) for t in data["tests"]] == [
        ("a deep queue fires after five minutes and resolves when it drains", True)
    ]
    assert not Rule.objects.exists()  # the inline rule lived in the isolated store only


def test_a_failing_file_sent_as_json_answers_its_diff(client: APIClient) -> None:
    content = (FILES / "queue_failing.yaml").read_text()
    response = client.post(URL, {"content": content}, format="json")
    assert response.status_code == 200
    data = response.json()
    assert data["passed"] is False
    failing, passing = data["tests"]
    assert (failing["passed"], passing["passed"]) == (False, True)
    assert failing["failures"] == [
        {
            "alertname": "Queue deep",
            "eval_time": "2m",
            "line": 16,
            "rule_error": "",
            "diff": [
                "--- expected",
                "+++ got",
                "@@ -1 +1 @@",
                "-firing {queue=\"mint\"} summary='mint has 1001 jobs'",
                "+pending {queue=\"mint\"} summary='mint has 1001 jobs'",
            ],
        }
    ]
    assert 'FAIL content:11: "expects firing too early"' in data["output"]


def test_a_malformed_file_is_a_400_naming_the_line(client: APIClient) -> None:
    response = client.post(URL, "rules: []\ntests:\n  - nme: x\n", content_type="text/yaml")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_test_file"
    assert body["details"]["line"] == 3
    assert body["details"]["content"][0].startswith("line 3: unknown key 'nme'")


@pytest.mark.parametrize(
    "payload",
    [{"content": 5}, {"file": "x"}, ["rules"]],
)
def test_a_bad_json_body_is_a_400_naming_content(client: APIClient, payload: Any) -> None:
    response = client.post(URL, payload, format="json")
    assert response.status_code == 400
    assert "content" in response.json()["message"]


def test_more_than_100_kb_is_a_413(client: APIClient) -> None:
    response = client.post(URL, "#" * (100 * 1024 + 1), content_type="application/yaml")
    assert response.status_code == 413
    assert "100 KB" in response.json()["message"]


def test_more_than_10000_points_is_a_413(client: APIClient) -> None:
    text = (
        "rules:\n  - {name: Q, expression: max(queue_size), threshold: 1, for: 2m}\n"
        "tests:\n  - input_series:\n"
        "      - {series: 'queue_size{queue=\"a\"}', values: '0+1x9999'}\n"
        "      - {series: 'queue_size{queue=\"b\"}', values: '1 2'}\n"
        "    alert_rule_test: []\n"
    )
    response = client.post(URL, text, content_type="application/yaml")
    assert response.status_code == 413
    assert "10000 input points" in response.json()["message"]


def test_viewers_may_not_run_tests(client_for: Callable[[User], APIClient], viewer: User) -> None:
    response = client_for(viewer).post(URL, {"content": "rules: []\ntests: []\n"}, format="json")
    assert response.status_code == 403


def test_rule_tests_read_their_own_samples_when_a_metrics_backend_is_configured(
    client: APIClient, settings: Any
) -> None:
    """Issue #20: the test inputs live in the isolated store, never in the backend (here down)."""
    settings.METRICS_BACKEND = "prometheus"
    settings.METRICS_BACKEND_URL = f"http://127.0.0.1:{free_port()}"
    body = (FILES / "queue_passing.yaml").read_bytes()
    response = client.post(URL, body, content_type="application/yaml")
    assert response.status_code == 200, response.content
    assert response.json()["passed"] is True
