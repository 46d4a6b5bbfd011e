"""Issue #10, item 5: tokens end on a password change, on sign-out everywhere, and a fixed time
after sign-in however often they are refreshed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import jwt
import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken

from monitoring_site.bootstrap import seed_roles
from monitoring_site.models import TokenRevocation
from monitoring_site.services import sign_out_everywhere
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a brand new passphrase for this account"


def obtain(username: str, password: str = PASSWORD) -> dict[str, str]:
    response = APIClient().post(
        "/api/auth/token/", {"username": username, "password": password}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def refresh(token: str) -> Any:
    return APIClient().post("/api/auth/token/refresh/", {"refresh": token}, format="json")


def me(access: str) -> Any:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client.get("/api/auth/me")


def claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, settings.JWT_SECRET, algorithms=["HS256"])


def assert_revoked(tokens: dict[str, str]) -> None:
    answer = me(tokens["access"])
    assert answer.status_code == 401
    assert answer.json()["code"] == "token_revoked"
    assert "revoked" in answer.json()["message"]
    refused = refresh(tokens["refresh"])
    assert refused.status_code == 401
    assert refused.json()["code"] in {"token_revoked", "token_not_valid"}


# --- password changes ---------------------------------------------------------------------------


def test_tokens_issued_before_a_password_change_are_refused(viewer: User) -> None:
    before = obtain(viewer.username)
    viewer.set_password(NEW_PASSWORD)
    viewer.save()

    assert_revoked(before)
    # A sign-in with the new password, even within the same second, works at once.
    after = obtain(viewer.username, NEW_PASSWORD)
    assert me(after["access"]).status_code == 200
    assert refresh(after["refresh"]).status_code == 200


def test_a_password_changed_in_the_admin_ends_the_users_tokens(
    viewer: User, superuser: User
) -> None:
    before = obtain(viewer.username)
    client = Client()
    client.force_login(superuser)
    response = client.post(
        f"/admin/auth/user/{viewer.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302, response.content[:2000]
    assert_revoked(before)


def test_a_password_changed_with_the_changepassword_command_ends_the_users_tokens(
    viewer: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = obtain(viewer.username)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": NEW_PASSWORD)
    call_command("changepassword", viewer.username, stdout=None)
    viewer.refresh_from_db()
    assert viewer.check_password(NEW_PASSWORD)
    assert_revoked(before)


def test_disabling_a_password_ends_the_users_tokens(viewer: User) -> None:
    before = obtain(viewer.username)
    viewer.set_unusable_password()
    viewer.save(update_fields=["password"])
    assert_revoked(before)


def test_a_hash_upgrade_at_sign_in_is_not_a_password_change(viewer: User, settings: Any) -> None:
    before = obtain(viewer.username)  # hashed with MD5 (the fast hasher of these tests)
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    obtain(viewer.username)  # Django re-hashes the password with PBKDF2 here
    viewer.refresh_from_db()
    assert viewer.password.startswith("pbkdf2_sha256$")
    assert me(before["access"]).status_code == 200
    assert refresh(before["refresh"]).status_code == 200


def test_other_saves_of_a_user_leave_tokens_alone(viewer: User) -> None:
    before = obtain(viewer.username)
    viewer.email = "vera@example.com"
    viewer.save()
    assert me(before["access"]).status_code == 200
    assert not TokenRevocation.objects.filter(user=viewer, generation__gt=0).exists()


# --- sign out everywhere ------------------------------------------------------------------------


def test_logout_all_ends_every_token_of_the_caller_and_only_theirs(
    viewer: User, operator: User
) -> None:
    laptop, phone = obtain(viewer.username), obtain(viewer.username)
    other = obtain(operator.username)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {laptop['access']}")

    response = client.post("/api/auth/logout-all")

    assert response.status_code == 200
    body = response.json()
    assert body["refresh_tokens_blacklisted"] == 2
    assert body["signed_out_at"]
    assert_revoked(laptop)
    assert_revoked(phone)
    assert BlacklistedToken.objects.filter(token__user=viewer).count() == 2
    assert me(other["access"]).status_code == 200
    assert me(obtain(viewer.username)["access"]).status_code == 200


def test_logout_all_needs_a_signed_in_caller(api_client: APIClient) -> None:
    response = api_client.post("/api/auth/logout-all")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_a_user_without_a_role_may_still_sign_themselves_out(nobody: User) -> None:
    tokens = obtain(nobody.username)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert client.post("/api/auth/logout-all").status_code == 200
    assert refresh(tokens["refresh"]).status_code == 401


def test_logout_all_also_ends_the_users_browser_sessions(viewer: User) -> None:
    browser = Client()
    browser.force_login(viewer)
    assert browser.get("/").status_code == 200
    bystander = Client()
    bystander.force_login(User.objects.create_user("bob", password=PASSWORD, is_superuser=True))

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {obtain(viewer.username)['access']}")
    assert client.post("/api/auth/logout-all").status_code == 200

    page = browser.get("/")
    assert page.status_code == 302 and page["Location"].startswith("/dashboard/login")
    assert bystander.get("/").status_code == 200
    # Signing in again afterwards opens a session that lasts.
    browser.force_login(viewer)
    assert browser.get("/").status_code == 200


def test_logout_all_is_in_the_openapi_schema(admin_client_api: APIClient) -> None:
    schema = admin_client_api.get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/auth/logout-all/"]["post"]
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ok.endswith("/LogoutAll")
    assert "401" in operation["responses"]
    assert "requestBody" not in operation


# --- the admin: "sign out everywhere" on the users page -----------------------------------------


@pytest.fixture
def roles_seeded(db: Any) -> None:
    seed_roles(lambda line: None)


def _sign_out_via_admin(actor: User, target: User) -> Any:
    client = Client()
    client.force_login(actor)
    return client.post(
        "/admin/auth/user/",
        {"action": "sign_out_everywhere", "_selected_action": [target.pk]},
        follow=True,
    )


def test_the_admin_role_signs_another_user_out_everywhere_from_the_users_page(
    roles_seeded: None, admin: User, viewer: User
) -> None:
    tokens = obtain(viewer.username)
    client = Client()
    client.force_login(admin)
    page = client.get("/admin/auth/user/")
    assert page.status_code == 200
    assert b"Sign out everywhere" in page.content

    response = _sign_out_via_admin(admin, viewer)

    assert b"Signed 1 user(s) out everywhere." in response.content
    assert_revoked(tokens)
    assert TokenRevocation.objects.get(user=viewer).reason == (
        f"signed out everywhere by {admin.username}"
    )


def test_the_admin_role_sees_users_but_cannot_edit_them(
    roles_seeded: None, admin: User, viewer: User
) -> None:
    client = Client()
    client.force_login(admin)
    assert client.get(f"/admin/auth/user/{viewer.pk}/change/").status_code == 200
    changed = client.post(
        f"/admin/auth/user/{viewer.pk}/change/", {"username": "renamed", "is_superuser": "on"}
    )
    assert changed.status_code == 403
    assert client.get(f"/admin/auth/user/{viewer.pk}/password/").status_code == 403
    viewer.refresh_from_db()
    assert viewer.username == "vera-viewer" and not viewer.is_superuser


def test_an_operator_cannot_sign_others_out_from_the_admin(
    roles_seeded: None, operator: User, viewer: User
) -> None:
    tokens = obtain(viewer.username)
    client = Client()
    client.force_login(operator)
    assert client.get("/admin/auth/user/").status_code == 403
    response = client.post(
        "/admin/auth/user/", {"action": "sign_out_everywhere", "_selected_action": [viewer.pk]}
    )
    assert response.status_code == 403
    assert me(tokens["access"]).status_code == 200


def test_the_service_refuses_a_non_admin_signing_out_someone_else(
    make_user: Callable[..., User], operator: User, viewer: User
) -> None:
    with pytest.raises(PermissionDenied):
        sign_out_everywhere(user=viewer, actor=operator)
    assert sign_out_everywhere(user=operator, actor=operator).generation == 1


# --- absolute refresh lifetime ------------------------------------------------------------------


def test_refreshing_never_extends_the_sign_in_past_jwt_refresh_days(viewer: User) -> None:
    start = timezone.now().replace(microsecond=0)
    end = start + timedelta(days=7)
    with time_machine.travel(start, tick=False):
        tokens = obtain(viewer.username)
    assert claims(tokens["refresh"])["exp"] == int(end.timestamp())

    for day in (1, 3, 6):
        with time_machine.travel(start + timedelta(days=day), tick=False):
            answer = refresh(tokens["refresh"])
            assert answer.status_code == 200
            tokens = answer.json()
            assert claims(tokens["refresh"])["exp"] == int(end.timestamp())
            assert claims(tokens["refresh"])["auth_time"] == int(start.timestamp())

    with time_machine.travel(end - timedelta(minutes=5), tick=False):
        last = refresh(tokens["refresh"]).json()
        # The access token does not outlive the chain either (15 minutes would pass the end).
        assert claims(last["access"])["exp"] == int(end.timestamp())
        assert me(last["access"]).status_code == 200

    with time_machine.travel(end + timedelta(seconds=1), tick=False):
        expired = refresh(last["refresh"])
        assert expired.status_code == 401
        assert expired.json()["message"] == "Token is expired"
        assert me(last["access"]).status_code == 401


def test_a_refresh_token_sent_twice_at_once_yields_one_new_pair(
    viewer: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second of two concurrent refreshes finds the token already rotated and is refused."""
    from rest_framework_simplejwt.tokens import RefreshToken

    from monitoring_site.api import auth

    tokens = obtain(viewer.username)
    decode = auth.refresh_token_from

    def other_request_wins(raw: str) -> RefreshToken:
        token = decode(raw)  # verified: not yet blacklisted
        RefreshToken(raw).blacklist()  # type: ignore[arg-type]  # meanwhile the other request rotates it
        return token

    monkeypatch.setattr(auth, "refresh_token_from", other_request_wins)
    refused = refresh(tokens["refresh"])
    assert refused.status_code == 401
    assert refused.json()["message"] == "Token is blacklisted"
