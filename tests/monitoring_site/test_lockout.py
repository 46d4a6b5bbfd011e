"""Issue #10, item 4: sign-ins resist guessing. A (username, address) pair is locked after 10
failures, on the admin, the dashboard and the API token sign-in alike, in the database."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from axes.models import AccessAttempt, AccessFailureLog
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from monitoring_site.bootstrap import seed_roles
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

ADDRESS = "203.0.113.9"
OTHER_ADDRESS = "203.0.113.10"
LOCKED = "Too many failed sign-ins for this username from your address"
PATHS = ["admin", "dashboard", "api"]


@dataclass
class Answer:
    status: int
    text: str
    signed_in: bool
    response: Any


def sign_in(path: str, username: str, password: str, address: str = ADDRESS, **meta: Any) -> Answer:
    """One sign-in attempt through ``path``, as a browser or a script would make it."""
    meta = {"REMOTE_ADDR": address, **meta}
    response: Any
    credentials = {"username": username, "password": password}
    if path == "api":
        response = APIClient().post("/api/auth/token/", credentials, format="json", **meta)
        ok = response.status_code == 200
        return Answer(response.status_code, response.content.decode(), ok, response)
    client = Client()
    url = "/admin/login/?next=/admin/" if path == "admin" else "/dashboard/login"
    response = client.post(url, credentials, **meta)
    signed_in = "_auth_user_id" in client.session
    return Answer(response.status_code, response.content.decode(), signed_in, response)


@pytest.fixture
def clock() -> Iterator[Any]:
    """Attempts 7 s apart (the probe sent 30 in 7.5 s): the API's per-address throttle of
    10/min never answers first, so what answers is the lockout."""
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller


def fail(path: str, username: str, times: int, clock: Any, **kwargs: Any) -> list[Answer]:
    answers = []
    for _ in range(times):
        answers.append(sign_in(path, username, "a wrong guess", **kwargs))
        clock.shift(7)
    return answers


@pytest.fixture
def staff(admin: User) -> User:
    """A user who may sign in on every path (the admin needs the operator role or higher)."""
    return admin


@pytest.mark.parametrize("path", PATHS)
def test_the_tenth_failure_locks_the_pair_and_the_right_password_is_then_refused(
    path: str, staff: User, clock: Any
) -> None:
    answers = fail(path, staff.username, 10, clock)

    assert all(LOCKED not in answer.text for answer in answers[:9])
    assert [a.status for a in answers[:9]] == [401 if path == "api" else 200] * 9
    assert answers[9].status == 429
    assert LOCKED in answers[9].text
    right = sign_in(path, staff.username, PASSWORD)
    assert right.status == 429
    assert LOCKED in right.text
    assert not right.signed_in
    assert right.response["Retry-After"] == "900"


def test_the_api_answers_a_lockout_in_its_json_error_shape(staff: User, clock: Any) -> None:
    fail("api", staff.username, 10, clock)
    answer = sign_in("api", staff.username, PASSWORD)
    body = answer.response.json()
    assert body["status"] == 429
    assert body["code"] == "locked_out"
    assert body["message"].startswith(LOCKED)
    assert "15 minutes" in body["message"]
    assert set(body) == {"status", "code", "message"}


@pytest.mark.parametrize("path", ["admin", "dashboard"])
def test_the_sign_in_page_says_the_account_is_locked(path: str, staff: User, clock: Any) -> None:
    fail(path, staff.username, 10, clock)
    page = sign_in(path, staff.username, PASSWORD)
    assert page.response["Content-Type"].startswith("text/html")
    assert "ask an admin to lift the lockout" in page.text
    assert 'name="password"' in page.text  # the form is still there, with the message


@pytest.mark.parametrize("path", PATHS)
def test_another_user_and_another_address_are_not_locked(
    path: str, staff: User, operator: User, clock: Any
) -> None:
    fail(path, staff.username, 10, clock)
    assert sign_in(path, operator.username, PASSWORD).signed_in
    assert sign_in(path, staff.username, PASSWORD, address=OTHER_ADDRESS).signed_in


def test_a_lockout_spans_sign_in_paths_and_user_agents(staff: User, clock: Any) -> None:
    """Failures add up whichever door they knock on, and changing User-Agent does not help."""
    fail("admin", staff.username, 4, clock, HTTP_USER_AGENT="curl/8")
    fail("dashboard", staff.username, 3, clock, HTTP_USER_AGENT="Firefox")
    fail("api", staff.username, 3, clock, HTTP_USER_AGENT="python-requests")
    assert sign_in("dashboard", staff.username, PASSWORD, HTTP_USER_AGENT="new").status == 429


@pytest.mark.parametrize("path", PATHS)
def test_the_lockout_ends_after_the_cool_off(path: str, staff: User, clock: Any) -> None:
    fail(path, staff.username, 10, clock)
    clock.shift(timedelta(minutes=14))
    assert sign_in(path, staff.username, PASSWORD).status == 429
    # A failure while locked restarts the cool-off: guessing on keeps the door shut.
    clock.shift(timedelta(minutes=15, seconds=1))
    assert sign_in(path, staff.username, PASSWORD).signed_in


@pytest.mark.parametrize("path", PATHS)
def test_a_successful_sign_in_clears_the_failures(path: str, staff: User, clock: Any) -> None:
    fail(path, staff.username, 9, clock)
    assert sign_in(path, staff.username, PASSWORD).signed_in
    answers = fail(path, staff.username, 9, clock)
    assert all(answer.status != 429 for answer in answers)
    assert sign_in(path, staff.username, PASSWORD).signed_in


def test_failures_and_the_lockout_are_recorded(staff: User, clock: Any) -> None:
    fail("dashboard", staff.username, 10, clock)
    attempt = AccessAttempt.objects.get(username=staff.username)
    assert (attempt.ip_address, attempt.failures_since_start) == (ADDRESS, 10)
    logged = list(AccessFailureLog.objects.order_by("attempt_time").values_list("locked_out"))
    assert logged == [(False,)] * 9 + [(True,)]
    assert "a wrong guess" not in attempt.post_data  # the password is masked


def test_behind_a_trusted_proxy_the_forwarded_client_is_the_address(
    staff: User, clock: Any, settings: Any
) -> None:
    settings.TRUSTED_PROXIES = 1
    fail("api", staff.username, 10, clock, HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert (
        sign_in("api", staff.username, PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.7").status == 429
    )
    # Same proxy (REMOTE_ADDR), another client behind it: not locked.
    assert sign_in("api", staff.username, PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.8").signed_in


def test_without_trusted_proxies_a_forged_forwarded_for_does_not_escape_the_lockout(
    staff: User, clock: Any
) -> None:
    fail("dashboard", staff.username, 10, clock)
    forged = sign_in("dashboard", staff.username, PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.1")
    assert forged.status == 429


def test_the_lockout_holds_while_redis_is_down(staff: User, clock: Any, settings: Any) -> None:
    """Attempts live in the database: a cache pointing at a dead Redis changes nothing."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }
    for path in ("admin", "dashboard"):
        fail(path, staff.username, 10, clock)
        assert sign_in(path, staff.username, PASSWORD).status == 429
        AccessAttempt.objects.all().delete()


# --- lifting a lockout in the admin -------------------------------------------------------------


@pytest.fixture
def roles_seeded(db: Any) -> None:
    seed_roles(lambda line: None)


def test_an_admin_lifts_a_lockout_and_the_user_signs_in_at_once(
    roles_seeded: None, admin: User, viewer: User, clock: Any
) -> None:
    fail("dashboard", viewer.username, 10, clock)
    console = Client()
    console.force_login(admin)
    listing = console.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200
    assert viewer.username in listing.content.decode()
    attempt = AccessAttempt.objects.get(username=viewer.username)

    lifted = console.post(
        "/admin/axes/accessattempt/",
        {"action": "lift_lockouts", "_selected_action": [attempt.pk]},
        follow=True,
    )

    assert "Lifted 1 lockout(s)." in lifted.content.decode()
    assert not AccessAttempt.objects.exists()
    assert sign_in("dashboard", viewer.username, PASSWORD).signed_in
    assert AccessFailureLog.objects.filter(username=viewer.username, locked_out=True).exists()


def test_deleting_the_attempt_in_the_admin_lifts_the_lockout_too(
    roles_seeded: None, admin: User, viewer: User, clock: Any
) -> None:
    fail("api", viewer.username, 10, clock)
    attempt = AccessAttempt.objects.get(username=viewer.username)
    console = Client()
    console.force_login(admin)
    deleted = console.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302
    assert sign_in("api", viewer.username, PASSWORD).signed_in


@pytest.mark.parametrize("path", ["accessattempt", "accesslog", "accessfailurelog"])
def test_operators_see_no_sign_in_records_and_cannot_lift_a_lockout(
    roles_seeded: None, operator: User, viewer: User, clock: Any, path: str
) -> None:
    fail("dashboard", viewer.username, 10, clock)
    attempt = AccessAttempt.objects.get(username=viewer.username)
    console = Client()
    console.force_login(operator)
    assert console.get(f"/admin/axes/{path}/").status_code == 403
    response = console.post(
        "/admin/axes/accessattempt/", {"action": "lift_lockouts", "_selected_action": [attempt.pk]}
    )
    assert response.status_code == 403
    assert AccessAttempt.objects.filter(pk=attempt.pk).exists()


def test_the_admin_role_cannot_edit_sign_in_records(
    roles_seeded: None, admin: User, viewer: User, clock: Any
) -> None:
    fail("dashboard", viewer.username, 3, clock)
    attempt = AccessAttempt.objects.get(username=viewer.username)
    console = Client()
    console.force_login(admin)
    changed = console.post(
        f"/admin/axes/accessattempt/{attempt.pk}/change/", {"failures_since_start": 0}
    )
    assert changed.status_code == 403
    assert console.get("/admin/axes/accessattempt/add/").status_code == 403
    attempt.refresh_from_db()
    assert attempt.failures_since_start == 3
