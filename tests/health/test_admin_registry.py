"""The service registry in the admin: checked as the API checks, written through the same services,
and a DSN's password never shown back (#10.3, #11.3)."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.forms.models import model_to_dict
from django.test import Client

from health.models import Service
from monitoring_site.bootstrap import seed_roles

pytestmark = pytest.mark.django_db

PAGE = "/admin/health/service"
FIELDS: tuple[str, ...] = (
    "slug",
    "name",
    "kind",
    "target",
    "health_path",
    "timeout",
    "expected_status",
)
FIELDS += ("critical", "enabled", "failure_threshold", "success_threshold", "tags")
PASSWORD = "s3cr3t-dsn-pass"
DSN = f"postgresql://monitor:{PASSWORD}@db.internal:5432/app"


@pytest.fixture
def superuser(db: Any) -> User:
    return User.objects.create_superuser("root", "root@example.com", None)


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def form(service: Service, **overrides: Any) -> dict[str, Any]:
    """The change form as a browser posts it (the target as the page shows it)."""
    from health.probes.base import redact

    data = model_to_dict(service, FIELDS)
    data["target"] = redact(service.target)
    data["tags"] = json.dumps(data["tags"])
    data["depends_on"] = [s.pk for s in service.depends_on.all()]
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not False}


@pytest.fixture
def database(make_service: Callable[..., Service]) -> Service:
    return make_service("platform-db", DSN, kind="postgres", health_path="")


@pytest.mark.parametrize("who", ["operator", "superuser"])
def test_no_service_page_shows_a_dsn_password(
    database: Service, who: str, request: pytest.FixtureRequest
) -> None:
    seed_roles(lambda line: None)
    client = logged_in(request.getfixturevalue(who))
    database.name = "Platform database"
    database.save()
    versions = [v.history_id for v in database.history.all()]

    pages = [
        client.get(f"{PAGE}/"),
        client.get(f"{PAGE}/{database.pk}/change/"),
        client.get(f"{PAGE}/{database.pk}/history/"),
        *(client.get(f"{PAGE}/{database.pk}/history/{v}/") for v in versions),
    ]

    assert [page.status_code for page in pages] == [200] * (3 + len(versions))
    html = "".join(page.content.decode() for page in pages)
    assert PASSWORD not in html
    assert "postgresql://***@db.internal:5432/app" in html


def test_a_target_left_as_shown_keeps_its_password(superuser: User, database: Service) -> None:
    response = logged_in(superuser).post(
        f"{PAGE}/{database.pk}/change/", form(database, name="Platform DB")
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    database.refresh_from_db()
    assert (database.name, database.target) == ("Platform DB", DSN)
    assert [v.target for v in database.history.order_by("history_id")] == [
        "postgresql://***@db.internal:5432/app"
    ] * 2


def test_a_changed_target_must_be_given_whole(superuser: User, database: Service) -> None:
    client = logged_in(superuser)
    half = client.post(
        f"{PAGE}/{database.pk}/change/",
        form(database, target="postgresql://***@db2.internal:5432/app"),
    )
    whole = client.post(
        f"{PAGE}/{database.pk}/change/",
        form(database, target="postgresql://monitor:n3w@db2.internal:5432/app"),
    )

    assert half.status_code == 200
    assert (
        "Give the whole target with its password"
        in half.context["adminform"].form.errors["target"][0]
    )
    assert whole.status_code == 302
    database.refresh_from_db()
    assert database.target == "postgresql://monitor:n3w@db2.internal:5432/app"


def test_the_admin_refuses_what_the_api_refuses(
    superuser: User, make_service: Callable[..., Service]
) -> None:
    auth = make_service("auth")
    gateway = make_service("gateway", depends_on=[auth])
    client = logged_in(superuser)

    cycle = client.post(f"{PAGE}/{auth.pk}/change/", form(auth, depends_on=[gateway.pk]))
    bad_target = client.post(f"{PAGE}/{auth.pk}/change/", form(auth, target="ftp://auth"))
    bad_timeout = client.post(f"{PAGE}/{auth.pk}/change/", form(auth, timeout="600"))

    errors = [page.context["adminform"].form.errors for page in (cycle, bad_target, bad_timeout)]
    assert "would make a cycle: auth -> gateway -> auth" in errors[0]["depends_on"][0]
    assert errors[1]["target"][0].startswith("Invalid target: expected")
    assert "60" in errors[2]["timeout"][0]
    assert list(auth.depends_on.all()) == []


def test_disabling_services_in_the_admin_goes_through_the_service_and_says_how_many(
    superuser: User, make_service: Callable[..., Service]
) -> None:
    auth, order = make_service("auth"), make_service("order", enabled=False)

    response = logged_in(superuser).post(
        f"{PAGE}/", {"action": "disable", "_selected_action": [auth.pk, order.pk]}, follow=True
    )

    assert [str(m) for m in response.context["messages"]] == ["1 service(s) disabled."]
    assert Service.objects.get(pk=auth.pk).enabled is False
    assert auth.history.order_by("-history_id").first().history_user == superuser


def test_the_migration_masks_passwords_already_in_the_history(database: Service) -> None:
    history = apps.get_model("health", "HistoricalService")
    history.objects.filter(id=database.pk).update(target=DSN)  # as written before masking

    migration = importlib.import_module("health.migrations.0002_scrub_target_passwords")
    migration.scrub_history(apps, None)

    assert list(history.objects.values_list("target", flat=True)) == [
        "postgresql://***@db.internal:5432/app"
    ]
