"""OpenAPI 3 at /api/schema/, Swagger UI at /api/docs/ served offline, and a valid schema."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client

from tests.monitoring_site.conftest import Run

pytestmark = pytest.mark.django_db


def test_the_schema_validates_without_warnings(run_django: Run, tmp_path: Path) -> None:
    """Covers every app's views: a failure names the view that needs a serializer or hint."""
    out = tmp_path / "schema.yaml"
    result = run_django("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert result.returncode == 0, result.stderr[-4000:]
    assert out.read_text().startswith("openapi: 3.")


def test_the_schema_is_served_as_openapi_3() -> None:
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "TicketToken monitoring API"
    assert "/api/auth/token/" in schema["paths"]
    assert "/api/auth/token/refresh/" in schema["paths"]
    assert "jwtAuth" in schema["components"]["securitySchemes"]


def test_swagger_ui_is_served_with_local_assets_only() -> None:
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []  # no inline script (CSP)
    assert "<style" not in html and "style=" not in html
    init = Client().get("/api/docs/?script=")
    assert init.status_code == 200
    assert init["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle(" in init.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets, html[:500]
    external = [url for url in assets if re.match(r"^(https?:)?//", url)]
    assert external == []
    assert any("swagger-ui-bundle.js" in url for url in assets)
    for url in assets:
        if url.startswith("/static/"):
            asset = Client().get(url)
            assert asset.status_code == 200, url
            assert asset.getvalue()


def test_docs_answer_without_a_trailing_slash_too() -> None:
    assert Client().get("/api/docs").status_code == 200
    assert Client().get("/api/schema").status_code == 200


def test_every_api_operation_documents_the_error_shape() -> None:
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["status", "code", "message"]
    ref = {"$ref": "#/components/schemas/Error"}

    def documented(path: str, method: str) -> dict[str, dict]:
        responses = schema["paths"][path][method]["responses"]
        return {
            status: body["content"]["application/json"]["schema"]
            for status, body in responses.items()
            if status[0] in "45" and status != "414"  # gunicorn's page (URL too long), not ours
        }

    token = documented("/api/auth/token/", "post")
    assert set(token) == {"400", "401", "413", "429", "500"}
    assert all(body == ref for body in token.values())
    runs = documented("/api/v1/monitoring/jobs/runs/", "get")
    assert {"401", "403", "404", "429", "500"} <= set(runs)
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if path.startswith("/api/"):
                assert "500" in operation["responses"], f"{method} {path}"
