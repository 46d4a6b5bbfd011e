"""Roles: viewer < operator < admin < superuser; a user in no group is denied everywhere."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from rest_framework.test import APIClient

from monitoring_site.bootstrap import seed_roles
from monitoring_site.roles import Role, has_role, user_role
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.monitoring_site.urls_testing")]

ClientFor = Callable[[User], APIClient]

# endpoint -> the users allowed to GET it
READ_ACCESS = {
    "/api/test/viewer": {"viewer", "operator", "admin", "superuser"},
    "/api/test/operator": {"operator", "admin", "superuser"},
    "/api/test/admin": {"admin", "superuser"},
    "/api/test/reads-writes": {"viewer", "operator", "admin", "superuser"},
}
CAST = ("viewer", "operator", "admin", "superuser", "nobody")


@pytest.fixture
def cast(
    viewer: User, operator: User, admin: User, superuser: User, nobody: User
) -> dict[str, User]:
    return {
        "viewer": viewer,
        "operator": operator,
        "admin": admin,
        "superuser": superuser,
        "nobody": nobody,
    }


@pytest.mark.parametrize("who", CAST)
@pytest.mark.parametrize("path", sorted(READ_ACCESS))
def test_each_role_reaches_exactly_its_endpoints(
    cast: dict[str, User], client_for: ClientFor, who: str, path: str
) -> None:
    response = client_for(cast[who]).get(path)
    if who in READ_ACCESS[path]:
        assert response.status_code == 200
        assert response.json()["user"] == cast[who].username
    else:
        assert response.status_code == 403
        body = response.json()
        assert body["code"] == "permission_denied"
        assert "role" in body["message"]


@pytest.mark.parametrize(
    ("who", "expected"),
    [("viewer", 403), ("operator", 403), ("admin", 201), ("superuser", 201), ("nobody", 403)],
)
def test_viewers_read_but_only_admins_write(
    cast: dict[str, User], client_for: ClientFor, who: str, expected: int
) -> None:
    response = client_for(cast[who]).post("/api/test/reads-writes", {}, format="json")
    assert response.status_code == expected


def test_anonymous_callers_are_asked_to_authenticate(api_client: APIClient) -> None:
    for path in READ_ACCESS:
        response = api_client.get(path)
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"


def test_the_highest_group_wins(make_user: Callable[..., User]) -> None:
    user = make_user("both", Role.VIEWER)
    user.groups.add(Group.objects.get_or_create(name="admin")[0])
    fresh = User.objects.get(pk=user.pk)
    assert user_role(fresh) is Role.ADMIN
    assert has_role(fresh, Role.OPERATOR)


def test_an_inactive_user_has_no_role(admin: User) -> None:
    admin.is_active = False
    assert user_role(admin) is None
    assert not has_role(admin, Role.VIEWER)


def test_groups_with_other_names_grant_nothing(make_user: Callable[..., User]) -> None:
    user = make_user("ops-team")
    user.groups.add(Group.objects.create(name="ops"))
    assert user_role(User.objects.get(pk=user.pk)) is None


def _admin_login(user: User) -> tuple[Any, Client]:
    client = Client()
    response = client.post(
        "/admin/login/?next=/admin/", {"username": user.username, "password": PASSWORD}
    )
    return response, client


@pytest.mark.parametrize("who", ["operator", "admin", "superuser"])
def test_operators_and_admins_log_in_to_the_admin(cast: dict[str, User], who: str) -> None:
    seed_roles(lambda line: None)
    response, client = _admin_login(cast[who])
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    index = client.get("/admin/")
    assert index.status_code == 200
    assert b"Operations console" in index.content


@pytest.mark.parametrize("who", ["viewer", "nobody"])
def test_viewers_and_users_without_a_role_cannot_log_in_to_the_admin(
    cast: dict[str, User], who: str
) -> None:
    response, client = _admin_login(cast[who])
    assert response.status_code == 200  # the form again, with an error
    assert b"errornote" in response.content
    assert client.get("/admin/").status_code == 302
