"""The admin's "Test the selected rules" action: a form with a test file, run on submission."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from alerts.models import Alert, Rule
from monitoring_site.bootstrap import seed_roles

pytestmark = pytest.mark.django_db
URL = "/admin/alerts/rule/"
FILES = Path(__file__).parent / "files"


@pytest.fixture
def browser(operator: User) -> Client:
    seed_roles(lambda line: None)
    client = Client()
    client.force_login(operator)
    return client


def test_the_action_offers_a_starter_file_for_the_selected_rule(
    browser: Client, make_rule: Any
) -> None:
    rule = make_rule(name="Deep queue", expression="max(queue_size)")
    response = browser.post(URL, {"action": "test_rules", "_selected_action": [rule.pk]})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Test deep-queue" in page
    assert "rules: [deep-queue]" in page
    assert "series: &#x27;queue_size&#x27;" in page
    assert "alertname: deep-queue" in page


def test_submitting_the_form_runs_the_file_and_shows_the_diff(
    browser: Client, make_rule: Any
) -> None:
    rule = make_rule(name="Deep queue", expression="max(queue_size)")
    content = (FILES / "queue_failing.yaml").read_text()
    response = browser.post(
        URL,
        {"action": "test_rules", "_selected_action": [rule.pk], "run": "1", "content": content},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "<h2>Failed</h2>" in page
    assert "FAIL form:11: &quot;expects firing too early&quot;" in page
    assert "+pending {queue=&quot;mint&quot;}" in page
    assert not Alert.objects.exists() and Rule.objects.count() == 1


def test_a_malformed_file_shows_its_line(browser: Client, make_rule: Any) -> None:
    rule = make_rule(name="Deep queue", expression="max(queue_size)")
    response = browser.post(
        URL,
        {
            "action": "test_rules",
            "_selected_action": [rule.pk],
            "run": "1",
            "content": "rules: [deep-queue]\ntests:\n  - eval: 1\n",
        },
    )
    assert response.status_code == 200
    assert "form:3: unknown key &#x27;eval&#x27;" in response.content.decode()
