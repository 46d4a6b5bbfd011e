from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime

import pytest
from django.conf import settings
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_status_answers_ok_with_an_iso_utc_timestamp(api_client: APIClient) -> None:
    response = api_client.get("/status")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["timestamp"].endswith("Z")
    assert datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00")).tzinfo is not None


def test_status_answers_with_a_trailing_slash_too_without_redirect(api_client: APIClient) -> None:
    response = api_client.get("/status/")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_status_is_503_when_the_database_does_not_answer() -> None:
    # A real unreachable database: a fresh process pointed at a port where nothing listens.
    script = (
        "import django; django.setup();"
        "from django.test import Client;"
        "r = Client().get('/status');"
        "print(r.status_code, r.content.decode())"
    )
    env = {
        **os.environ,
        "DATABASE_URL": "postgres://postgres@127.0.0.1:9/none",
        "TESTING": "true",
        "DJANGO_SETTINGS_MODULE": "monitoring_site.settings",
        "DATABASE_CONNECT_TIMEOUT": "2",
    }
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=settings.BASE_DIR,
    )
    # Logs share stdout (the status view logs a warning): the answer is the last line.
    status, _, body = result.stdout.strip().splitlines()[-1].partition(" ")
    assert status == "503", result.stderr[-2000:]
    assert json.loads(body)["status"] == "error"
