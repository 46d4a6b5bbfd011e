"""Silence matchers that used to give 500s (issue #10 item 7): a 400 naming the matcher."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from alerts.models import Silence
from tests.alerts.silences.test_api import SILENCES, body

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("matcher", "problem"),
    [
        ({"name": "service", "value": "pay\x00ment"}, "0.value: must not contain a NUL character"),
        (
            {"name": "service", "op": "=~", "value": "pay\x00.*"},
            "0.value: must not contain a NUL character",
        ),
        (
            {"name": "service", "value": "\ud800"},
            "0.value: must not contain a lone surrogate (not valid Unicode)",
        ),
        (
            {"name": "service", "op": "!~", "value": "x\udc00"},
            "0.value: must not contain a lone surrogate (not valid Unicode)",
        ),
        (
            {"name": "service\n", "value": "payment"},
            "0.name: expected a label name ([a-zA-Z_][a-zA-Z0-9_]*)",
        ),
    ],
)
def test_nul_or_a_lone_surrogate_in_a_matcher_is_a_400_naming_it(
    clock: Any, operator_client: APIClient, matcher: dict[str, str], problem: str
) -> None:
    raw = json.dumps(body(matchers=[matcher]))  # \u escapes: a surrogate cannot be UTF-8
    response = operator_client.post(SILENCES, raw, content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    assert response.json()["details"] == {"matchers": [problem]}
    assert Silence.objects.count() == 0


def test_the_admin_form_refuses_a_nul_in_a_matcher_too(clock: Any) -> None:
    console = Client()
    console.force_login(User.objects.create_superuser("root", "root@example.com", "pw-123456789"))
    form = {
        "matchers": '[{"name": "service", "value": "pay\\u0000ment"}]',
        "starts_at_0": "2026-11-02",
        "starts_at_1": "09:00:30",
        "ends_at_0": "2026-11-02",
        "ends_at_1": "10:00:30",
        "comment": "rolling restart",
    }
    response = console.post("/admin/alerts/silence/add/", form)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["matchers"] == [
        "0.value: must not contain a NUL character"
    ]
    assert Silence.objects.count() == 0
