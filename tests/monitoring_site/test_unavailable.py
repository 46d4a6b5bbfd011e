"""The database down answers 503 with Retry-After on every door (issue #13, item 2).

Each door is exercised here with a view that meets the error the database driver raises; the
real outage (a PostgreSQL server stopped under gunicorn during ingest) is in
tests/monitoring_site/test_faults.py.
"""

from __future__ import annotations

import logging

import pytest
from django.db.utils import OperationalError
from django.test import Client, RequestFactory

from monitoring_site import unavailable
from monitoring_site.views import handler500

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.monitoring_site.urls_testing")]


@pytest.fixture(autouse=True)
def _fresh_outage() -> None:
    unavailable.OUTAGE.since = None


def test_an_api_view_that_meets_the_database_down_answers_503_with_retry_after(
    client: Client, settings: pytest.FixtureRequest
) -> None:
    settings.UNAVAILABLE_RETRY_AFTER_SECONDS = 7  # type: ignore[attr-defined]
    response = client.get("/api/test/errors/database-down")

    assert response.status_code == 503
    assert response["Retry-After"] == "7"
    assert response.json() == {"status": 503, "code": "unavailable", "message": unavailable.MESSAGE}


def test_a_plain_view_whose_connection_broke_answers_503_json_under_api_and_text_elsewhere(
    client: Client,
) -> None:
    api = client.get("/api/test/plain-database-down")
    page = client.get("/test/plain-database-down")

    assert (api.status_code, api["Retry-After"], api.json()["code"]) == (503, "10", "unavailable")
    assert (page.status_code, page["Retry-After"]) == (503, "10")
    assert page["Content-Type"].startswith("text/plain")
    assert "retry after" in page.content.decode()


def test_an_exception_raised_outside_any_view_is_a_503_through_handler500() -> None:
    """A middleware (the session save, the lockout check) that met the database down."""
    request = RequestFactory().post("/admin/login/")
    try:
        raise OperationalError("server closed the connection unexpectedly")
    except OperationalError:
        response = handler500(request)
    assert (response.status_code, response["Retry-After"]) == (503, "10")


def test_other_errors_stay_500(client: Client) -> None:
    assert client.get("/api/test/errors/crash").status_code == 500
    assert handler500(RequestFactory().get("/api/x")).status_code == 500


def test_the_outage_is_logged_once_and_its_end_once_and_every_503_is_counted(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="monitoring_site.unavailable")
    counted = unavailable.UNAVAILABLE.labels("database")._value.get()
    for _ in range(3):
        assert client.get("/api/test/errors/database-down").status_code == 503
    assert client.get("/api/test/errors/fine").status_code == 200

    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert lines[0].startswith("database unavailable: answering 503 (logged once")
    assert lines[1].startswith("database available again after")
    assert unavailable.UNAVAILABLE.labels("database")._value.get() == counted + 3
