"""JWT obtain and refresh (rotation, blacklisting), and every kind of token that must be refused."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import jwt
import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.test import APIClient

from tests.conftest import PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.monitoring_site.urls_testing")]

PROTECTED = "/api/test/viewer"


def obtain(client: APIClient, username: str, password: str = PASSWORD) -> Any:
    return client.post(
        "/api/auth/token/", {"username": username, "password": password}, format="json"
    )


def refresh(client: APIClient, token: str) -> Any:
    return client.post("/api/auth/token/refresh/", {"refresh": token}, format="json")


def call_with(token: str) -> Any:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.get(PROTECTED)


def assert_json_401(response: Any) -> dict[str, Any]:
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == 401
    assert isinstance(body["message"], str) and body["message"]
    return body


def test_a_viewer_obtains_a_token_pair_and_calls_the_api_with_it(
    api_client: APIClient, viewer: User
) -> None:
    response = obtain(api_client, viewer.username)
    assert response.status_code == 200
    tokens = response.json()
    assert set(tokens) == {"access", "refresh"}
    answer = call_with(tokens["access"])
    assert answer.status_code == 200
    assert answer.json() == {"allowed": "viewer", "user": viewer.username}


def test_tokens_are_signed_with_jwt_secret_and_live_for_the_configured_times(
    api_client: APIClient, viewer: User
) -> None:
    tokens = obtain(api_client, viewer.username).json()
    access = jwt.decode(tokens["access"], settings.JWT_SECRET, algorithms=["HS256"])
    refresh_claims = jwt.decode(tokens["refresh"], settings.JWT_SECRET, algorithms=["HS256"])
    assert access["token_type"] == "access"
    assert access["exp"] - access["iat"] == 15 * 60
    assert refresh_claims["exp"] - refresh_claims["iat"] == 7 * 24 * 3600


def test_wrong_credentials_answer_401_in_the_error_shape(
    api_client: APIClient, viewer: User
) -> None:
    body = assert_json_401(obtain(api_client, viewer.username, "not the password"))
    assert body["code"] in {"no_active_account", "authentication_failed"}
    assert_json_401(obtain(api_client, "no-such-user"))


def test_an_inactive_user_cannot_obtain_a_token(api_client: APIClient, viewer: User) -> None:
    viewer.is_active = False
    viewer.save()
    assert_json_401(obtain(api_client, viewer.username))


def test_missing_fields_answer_400_naming_them(api_client: APIClient) -> None:
    response = api_client.post("/api/auth/token/", {"username": "x"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert set(body["details"]) == {"password"}


def test_refresh_rotates_and_the_old_refresh_token_is_then_refused(
    api_client: APIClient, viewer: User
) -> None:
    first = obtain(api_client, viewer.username).json()
    rotated = refresh(api_client, first["refresh"])
    assert rotated.status_code == 200
    pair = rotated.json()
    assert set(pair) == {"access", "refresh"}
    assert pair["refresh"] != first["refresh"]
    assert call_with(pair["access"]).status_code == 200

    reused = refresh(api_client, first["refresh"])
    body = assert_json_401(reused)
    assert body["code"] == "token_not_valid"
    assert body["message"] == "Token is blacklisted"
    # The new refresh token keeps working.
    assert refresh(api_client, pair["refresh"]).status_code == 200


def test_an_expired_access_token_is_refused(api_client: APIClient, viewer: User) -> None:
    tokens = obtain(api_client, viewer.username).json()
    with time_machine.travel(timezone.now() + timedelta(minutes=16), tick=False):
        body = assert_json_401(call_with(tokens["access"]))
        assert body["code"] == "token_not_valid"
        assert body["message"] == "Token is expired"
        # The refresh token is still valid and gives a fresh access token.
        fresh = refresh(api_client, tokens["refresh"]).json()["access"]
        assert call_with(fresh).status_code == 200


def test_an_expired_refresh_token_is_refused(api_client: APIClient, viewer: User) -> None:
    tokens = obtain(api_client, viewer.username).json()
    with time_machine.travel(timezone.now() + timedelta(days=7, minutes=1), tick=False):
        assert_json_401(refresh(api_client, tokens["refresh"]))


def _tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["user_id"] = str(int(claims["user_id"]) + 1)
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def test_a_token_with_tampered_claims_is_refused(
    api_client: APIClient, viewer: User, admin: User
) -> None:
    tokens = obtain(api_client, viewer.username).json()
    assert_json_401(call_with(_tamper(tokens["access"])))


def test_a_token_signed_with_another_key_is_refused(api_client: APIClient, viewer: User) -> None:
    claims = jwt.decode(
        obtain(api_client, viewer.username).json()["access"],
        settings.JWT_SECRET,
        algorithms=["HS256"],
    )
    forged = jwt.encode(claims, "not-the-secret-" * 4, algorithm="HS256")
    assert_json_401(call_with(forged))


def test_an_unsigned_alg_none_token_is_refused(api_client: APIClient, viewer: User) -> None:
    claims = jwt.decode(
        obtain(api_client, viewer.username).json()["access"],
        settings.JWT_SECRET,
        algorithms=["HS256"],
    )
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert_json_401(call_with(f"{header}.{body}."))


def test_a_refresh_token_is_not_accepted_as_an_access_token(
    api_client: APIClient, viewer: User
) -> None:
    tokens = obtain(api_client, viewer.username).json()
    body = assert_json_401(call_with(tokens["refresh"]))
    assert body["code"] == "token_not_valid"


def test_an_access_token_is_not_accepted_as_a_refresh_token(
    api_client: APIClient, viewer: User
) -> None:
    tokens = obtain(api_client, viewer.username).json()
    assert_json_401(refresh(api_client, tokens["access"]))


def test_garbage_in_the_authorization_header_is_a_401_not_a_500(viewer: User) -> None:
    # WSGI hands headers over as latin-1: UTF-8 bytes arrive as "Î©".
    for token in ("", "abc", "a.b.c", "Î©.Î©.Î©"):
        assert_json_401(call_with(token))


def test_a_token_of_a_deactivated_user_stops_working(api_client: APIClient, viewer: User) -> None:
    tokens = obtain(api_client, viewer.username).json()
    viewer.is_active = False
    viewer.save()
    assert_json_401(call_with(tokens["access"]))


def test_without_a_token_the_api_answers_401_with_a_bearer_challenge(
    api_client: APIClient,
) -> None:
    response = api_client.get(PROTECTED)
    body = assert_json_401(response)
    assert body["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_session_login_works_for_the_api_too(viewer: User) -> None:
    client = APIClient()
    client.force_login(viewer)
    response = client.get(PROTECTED)
    assert response.status_code == 200
    assert response.json()["user"] == viewer.username


def test_session_writes_need_the_csrf_token(admin: User) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(admin)
    response = client.post("/api/test/reads-writes", {}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert "CSRF" in response.json()["message"]
