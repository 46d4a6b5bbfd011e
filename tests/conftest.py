"""The shared cast: one user per role, a user in no group, and API clients for each."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from monitoring_site.roles import Role

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _isolated_cache() -> Iterator[None]:
    """Throttle counters and cached pages never leak from one test into the next."""
    _clear_cache()
    yield
    _clear_cache()


def _clear_cache() -> None:
    if hasattr(cache, "delete_pattern"):
        cache.delete_pattern("*")  # only this worker's prefix, unlike FLUSHDB
    else:
        cache.clear()


@pytest.fixture
def make_user(db: Any) -> Callable[..., User]:
    def make(username: str, role: Role | None = None, **extra: Any) -> User:
        user = User.objects.create_user(username=username, password=PASSWORD, **extra)
        if role is not None:
            group, _ = Group.objects.get_or_create(name=role.group_name)
            user.groups.add(group)
        return user

    return make


@pytest.fixture
def admin(make_user: Callable[..., User]) -> User:
    return make_user("ada-admin", Role.ADMIN)


@pytest.fixture
def operator(make_user: Callable[..., User]) -> User:
    return make_user("otto-operator", Role.OPERATOR)


@pytest.fixture
def viewer(make_user: Callable[..., User]) -> User:
    return make_user("vera-viewer", Role.VIEWER)


@pytest.fixture
def nobody(make_user: Callable[..., User]) -> User:
    return make_user("nils-nobody")


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def client_for() -> Callable[[User], APIClient]:
    """An API client carrying a fresh JWT access token of ``user``."""

    def make(user: User) -> APIClient:
        client = APIClient()
        token = RefreshToken.for_user(user).access_token
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return client

    return make


@pytest.fixture
def admin_client_api(client_for: Callable[[User], APIClient], admin: User) -> APIClient:
    return client_for(admin)


@pytest.fixture
def operator_client(client_for: Callable[[User], APIClient], operator: User) -> APIClient:
    return client_for(operator)


@pytest.fixture
def viewer_client(client_for: Callable[[User], APIClient], viewer: User) -> APIClient:
    return client_for(viewer)
