"""Who may do what: every API operation and every admin page and action, for every role (#10.3).

One table, NetBox's way. Each row names the least role that may do one thing; the test asks as
anonymous, viewer, operator, admin and superuser and compares the statuses with the ones the row
implies. The table is the role matrix of ``docs/security.md``. The URL resolver and the admin
registry are enumerated: an endpoint, admin page or action missing from the table fails
``test_every_operation_has_a_row`` (and a row for something that no longer exists fails too).

Adding an endpoint: add ``Api(method, url name, least role, ok status, ...)`` below; an admin
model: ``Pages(...)``; an admin action: ``Action(model, name, least role)``. Give the objects a
request needs in ``world`` (one of each registered model).

Statuses implied by a row (``least`` is the least role allowed; ``None`` for an API row means
public, for an admin row nobody, superusers included):

- API: allowed roles get ``ok``; anonymous callers 401 (``anonymous=`` when a page redirects),
  signed-in roles below ``least`` 403.
- Admin: anonymous callers and viewers are sent to the login page (302: the admin is for
  operators and up); an allowed role gets the page (200; a confirmed delete or an action that
  ran: 302); a role below it 403, for actions too (never a silent "No action selected").
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.db.models import Model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework_simplejwt.tokens import RefreshToken
from simple_history.admin import SimpleHistoryAdmin

from monitoring_site.bootstrap import seed_roles
from monitoring_site.roles import Role

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "viewer", "operator", "admin", "superuser")
RANK = {"viewer": 1, "operator": 2, "admin": 3, "superuser": 4}
VIEWER, OPERATOR, ADMIN, SUPERUSER = "viewer", "operator", "admin", "superuser"
PUBLIC = None
NOBODY = None
HTTP_METHODS = ("get", "post", "put", "patch", "delete")


def _allowed(role: str, least: str | None) -> bool:
    return least is not None and role != "anonymous" and RANK[role] >= RANK[least]


# --- the API ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Api:
    """One API operation: ``method`` on the URL named ``name``, allowed from ``least`` up."""

    method: str
    name: str
    least: str | None
    ok: int = 200
    args: tuple[str, ...] = ()  # keys of ``world`` whose primary keys fill the URL, in order
    body: Any = None
    query: str = ""
    anonymous: int = 401

    @property
    def key(self) -> tuple[str, str]:
        return (self.method.upper(), self.name)

    def expected(self) -> tuple[int, ...]:
        if self.least is PUBLIC:
            return tuple(self.ok for _ in ROLES)
        return tuple(
            self.ok
            if _allowed(role, self.least)
            else (self.anonymous if role == "anonymous" else 403)
            for role in ROLES
        )


RULE = {"name": "New rule", "expression": "max(queue_size)", "threshold": 5, "for": "2m"}
SERVICE = {"slug": "new-svc", "name": "New", "kind": "http", "target": "http://127.0.0.1:9"}
SILENCE = {"matchers": [{"name": "service", "value": "payment"}], "comment": "deploy"}
SILENCE["ends_at"] = "{in_an_hour}"
WINDOW = {"name": "Upgrade", "services": ["probe"], "comment": "upgrade"}
WINDOW["ends_at"] = "{in_an_hour}"
DETECTOR = {"name": "New detector", "expression": "sum(queue_size)", "seasonality": "daily"}
SAMPLES = {"samples": [{"metric": "active_users", "value": 3}]}
EXTERNAL_ALERTS = [{"labels": {"alertname": "Probe"}, "annotations": {"summary": "probe"}}]
M = "api/v1/monitoring"

API: list[Api] = [
    # the foundation
    Api("get", "status", PUBLIC),
    Api("post", "token-obtain", PUBLIC, 400, body={}),
    Api("post", "token-refresh", PUBLIC, 400, body={}),
    Api("get", "auth-me", VIEWER),
    Api("post", "auth-logout-all", VIEWER),  # any signed-in user, for themselves
    Api("get", "job-run-list", VIEWER),
    Api("get", "job-run-detail", VIEWER, args=("jobrun",)),
    Api("get", "workers", VIEWER),
    Api("get", "schema", PUBLIC),
    Api("get", "api-docs", PUBLIC),
    # metrics
    Api("get", "metrics", PUBLIC),  # guarded by address (PROMETHEUS_IPS), not by role
    Api("post", "metrics-ingest", ADMIN, 202, body=SAMPLES),  # or an ingest token
    Api("post", "alertmanager-alerts", ADMIN, 200, body=EXTERNAL_ALERTS),  # or an intake token
    Api("get", "metrics-series", VIEWER),
    Api("get", "metrics-query", VIEWER, args=(), query="?series={series}"),
    Api("get", "business-metrics", VIEWER),
    # health
    Api("get", "dashboard", VIEWER, anonymous=302),
    Api("get", "health", PUBLIC),  # HEALTH_PUBLIC (default true): load balancers poll it
    Api("get", "dashboard-login", PUBLIC),
    Api("post", "dashboard-login", PUBLIC, body={}),
    Api("put", "dashboard-login", PUBLIC, body={}),  # Django's form views take PUT as POST
    Api("post", "dashboard-logout", PUBLIC, 302),
    Api("get", "dashboard-data", VIEWER),
    Api("get", "dashboard-latency", VIEWER, args=("service",)),
    Api("get", "health-detailed", VIEWER),
    Api("post", "health-check", OPERATOR),
    Api("get", "service-list", VIEWER),
    Api("post", "service-list", ADMIN, 201, body=SERVICE),
    Api("get", "service-detail", VIEWER, args=("service",)),
    Api("put", "service-detail", ADMIN, args=("service",), body=SERVICE),
    Api("patch", "service-detail", ADMIN, args=("service",), body={"name": "Renamed"}),
    Api("delete", "service-detail", ADMIN, 204, args=("service",)),
    Api("get", "service-history", VIEWER, args=("service",)),
    # the rule language
    Api("post", "alert-rule-validate", VIEWER, body={"expression": "max(queue_size)"}),
    Api("post", "alert-rule-test", OPERATOR, body={"content": "rules: []\ntests: []\n"}),
    Api("post", "monitoring-query", VIEWER, body={"expression": "max(queue_size)"}),
    # alerts and rules
    Api("get", "alerts-overview", VIEWER),
    Api("post", "alerts-acknowledge-alias", OPERATOR, args=("alert",)),
    Api("get", "alert-list", VIEWER),
    Api("get", "alert-detail", VIEWER, args=("alert",)),
    Api("post", "alert-acknowledge", OPERATOR, args=("alert",)),
    Api("post", "alert-resolve", OPERATOR, args=("alert",)),
    # the alert pages: a viewer's login (the dashboard's), actions for operators
    Api("get", "alerts-page", VIEWER, anonymous=302),
    Api("get", "alert-page", VIEWER, args=("alert",), anonymous=302),
    Api("get", "alert-page-chart", VIEWER, args=("alert",), anonymous=302),
    Api("post", "alert-page-acknowledge", OPERATOR, 302, args=("alert",), anonymous=302),
    Api("post", "alert-page-resolve", OPERATOR, 302, args=("alert",), anonymous=302),
    Api("get", "alert-page-silence", OPERATOR, args=("alert",), anonymous=302),
    Api("post", "alert-page-silence", OPERATOR, 400, args=("alert",), body={}, anonymous=302),
    Api("get", "rules-page", VIEWER, anonymous=302),
    Api("get", "alert-rule-list", VIEWER),
    Api("post", "alert-rule-list", ADMIN, 201, body=RULE),
    Api("get", "alert-rule-detail", VIEWER, args=("rule",)),
    Api("put", "alert-rule-detail", ADMIN, args=("rule",), body=RULE),
    Api("patch", "alert-rule-detail", ADMIN, args=("rule",), body={"threshold": 7}),
    Api("delete", "alert-rule-detail", ADMIN, 204, args=("rule",)),
    Api("post", "alert-rule-preview", VIEWER, args=("rule",), query="?range=1h"),
    # notifications
    Api("post", "alerts-test", ADMIN, 202, body={"channels": ["Ops email"]}),
    Api("get", "alert-ack-link", PUBLIC, 400, args=("ack_token",)),  # the link is the credential
    Api("post", "alert-ack-link", PUBLIC, 400, args=("ack_token",)),
    # silences and maintenance windows
    Api("get", "silence-list", VIEWER),
    Api("post", "silence-list", OPERATOR, 201, body=SILENCE),
    Api("get", "silence-detail", VIEWER, args=("silence",)),
    Api("post", "silence-expire", OPERATOR, args=("silence",)),
    Api("get", "maintenance-window-list", VIEWER),
    Api("post", "maintenance-window-list", ADMIN, 201, body=WINDOW),
    Api("get", "maintenance-window-detail", VIEWER, args=("window",)),
    Api("post", "maintenance-window-expire", ADMIN, args=("window",)),
    # anomaly detection
    Api("get", "anomalies", VIEWER),
    Api("get", "anomaly-detector-list", VIEWER),
    Api("post", "anomaly-detector-list", ADMIN, 201, body=DETECTOR),
    Api("get", "anomaly-detector-detail", VIEWER, args=("detector",)),
    Api("put", "anomaly-detector-detail", ADMIN, args=("detector",), body=DETECTOR),
    Api("patch", "anomaly-detector-detail", ADMIN, args=("detector",), body={"sensitivity": 6}),
    Api("delete", "anomaly-detector-detail", ADMIN, 204, args=("detector",)),
    Api("get", "anomaly-detector-forecast", VIEWER, args=("detector",)),
    # daily reports: pages (a viewer's login, like the dashboard) and the JSON
    Api("get", "report-list", VIEWER, anonymous=302),
    Api("get", "report-page", VIEWER, args=("report_day",), anonymous=302),
    Api("get", "report-chart", VIEWER, args=("report_day", "report_chart"), anonymous=302),
    Api("get", "report-api-detail", VIEWER, args=("report_day",)),
]


# --- the admin ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pages:
    """The admin pages of one model: the least role that may view, add, change, delete."""

    model: str  # app_label.model_name
    view: str | None = OPERATOR
    add: str | None = ADMIN
    change: str | None = ADMIN
    delete: str | None = ADMIN
    saved_empty: bool = False  # every field read-only: an empty change form saves (302)
    optional: bool = False  # registered in some configurations only


@dataclass(frozen=True)
class Action:
    """One admin action of one model and the least role that may run it."""

    model: str
    name: str
    least: str | None
    ok: int = 302  # it ran and went back to the list (a delete asks to confirm: 200)


# Operators enter the admin (viewers do not): they see everything but django's own users and
# groups, and act where the API lets them act.
READ_ONLY: dict[str, Any] = {"add": NOBODY, "change": NOBODY}
PAGES: list[Pages] = [
    # The admin role lists users (to sign them out everywhere); editing them is a superuser's.
    Pages("auth.user", view=ADMIN, add=SUPERUSER, change=SUPERUSER, delete=SUPERUSER),
    Pages("auth.group", view=SUPERUSER, add=SUPERUSER, change=SUPERUSER, delete=SUPERUSER),
    Pages("token_blacklist.outstandingtoken", SUPERUSER, NOBODY, NOBODY, NOBODY),
    Pages("token_blacklist.blacklistedtoken", SUPERUSER, SUPERUSER, SUPERUSER, SUPERUSER),
    # django-q2's rows name the code the worker runs: every role reads them, only superusers
    # write them (the worker guard is the second fence: docs/security.md).
    Pages("django_q.schedule", add=SUPERUSER, change=SUPERUSER, delete=SUPERUSER),
    Pages("django_q.success", add=NOBODY, change=SUPERUSER, delete=SUPERUSER, saved_empty=True),
    Pages("django_q.failure", add=NOBODY, change=SUPERUSER, delete=SUPERUSER, saved_empty=True),
    # the ORM broker's queue (no REDIS_URL)
    Pages("django_q.ormq", add=NOBODY, change=SUPERUSER, delete=SUPERUSER, optional=True),
    # Sign-in lockouts (django-axes): the admin role reads them and lifts a lockout.
    Pages("axes.accessattempt", ADMIN, NOBODY, NOBODY, ADMIN),
    # The sign-in records are an audit trail: only superusers (and retention) delete them.
    Pages("axes.accesslog", ADMIN, NOBODY, NOBODY, SUPERUSER),
    Pages("axes.accessfailurelog", ADMIN, NOBODY, NOBODY, SUPERUSER),
    Pages("monitoring_site.jobrun", **READ_ONLY),
    Pages("monitoring_site.seedrecord", **READ_ONLY),
    Pages("metrics_app.metricdefinition"),
    Pages("metrics_app.ingesttoken"),
    Pages("metrics_app.series", add=NOBODY, change=NOBODY, delete=NOBODY),
    Pages("metrics_app.remotewriteprogress", add=NOBODY, change=NOBODY, delete=NOBODY),
    Pages("health.service"),
    Pages("health.checkresult", **READ_ONLY),
    Pages("health.statechange", **READ_ONLY),
    Pages("health.uptimehour", **READ_ONLY),
    Pages("alerts.rule"),
    Pages("alerts.alert", add=NOBODY, change=NOBODY, delete=NOBODY),
    Pages("alerts.evaluationcycle", **READ_ONLY),
    Pages("alerts.notificationchannel"),
    Pages("alerts.escalationpolicy"),
    Pages("alerts.notification", **READ_ONLY),
    Pages("alerts.silence", add=OPERATOR, change=OPERATOR),
    Pages("alerts.maintenancewindow"),
    Pages("alerts.anomalydetector"),
    Pages("alerts.anomalyscore", **READ_ONLY),
    Pages("alerts.intaketoken"),
    Pages("reports.report", **READ_ONLY),
    Pages("reports.reportdelivery", **READ_ONLY),
]

ACTIONS: list[Action] = [
    Action("auth.user", "delete_selected", SUPERUSER, 200),
    Action("auth.user", "sign_out_everywhere", ADMIN),
    Action("auth.group", "delete_selected", SUPERUSER, 200),
    Action("token_blacklist.outstandingtoken", "delete_selected", NOBODY),
    Action("token_blacklist.blacklistedtoken", "delete_selected", SUPERUSER, 200),
    Action("django_q.schedule", "delete_selected", SUPERUSER, 200),
    Action("django_q.success", "delete_selected", SUPERUSER, 200),
    Action("django_q.success", "resubmit_task", SUPERUSER),
    Action("django_q.failure", "delete_selected", SUPERUSER, 200),
    Action("django_q.failure", "resubmit_task", SUPERUSER),
    Action("django_q.ormq", "delete_selected", SUPERUSER, 200),
    Action("axes.accessattempt", "delete_selected", ADMIN, 200),
    Action("axes.accessattempt", "lift_lockouts", ADMIN),
    Action("axes.accesslog", "delete_selected", SUPERUSER, 200),
    Action("axes.accessfailurelog", "delete_selected", SUPERUSER, 200),
    Action("monitoring_site.jobrun", "delete_selected", ADMIN, 200),
    Action("monitoring_site.seedrecord", "delete_selected", ADMIN, 200),
    Action("metrics_app.metricdefinition", "delete_selected", ADMIN, 200),
    Action("metrics_app.ingesttoken", "delete_selected", ADMIN, 200),
    Action("metrics_app.ingesttoken", "revoke", ADMIN),
    Action("alerts.intaketoken", "delete_selected", ADMIN, 200),
    Action("alerts.intaketoken", "revoke", ADMIN),
    Action("metrics_app.series", "delete_selected", NOBODY),
    Action("metrics_app.remotewriteprogress", "delete_selected", NOBODY),
    Action("health.service", "delete_selected", ADMIN, 200),
    Action("health.service", "run_round_now", OPERATOR),  # as POST .../health/check
    Action("health.service", "enable", ADMIN),
    Action("health.service", "disable", ADMIN),
    Action("health.checkresult", "delete_selected", ADMIN, 200),
    Action("health.statechange", "delete_selected", ADMIN, 200),
    Action("health.uptimehour", "delete_selected", ADMIN, 200),
    Action("alerts.rule", "delete_selected", ADMIN, 200),
    Action("alerts.rule", "test_rules", OPERATOR, 200),  # as POST .../alerts/rules/test
    Action("alerts.alert", "delete_selected", NOBODY),
    Action("alerts.alert", "acknowledge", OPERATOR),
    Action("alerts.alert", "resolve", OPERATOR),
    Action("alerts.evaluationcycle", "delete_selected", ADMIN, 200),
    Action("alerts.notificationchannel", "delete_selected", ADMIN, 200),
    Action("alerts.notificationchannel", "check_channels", ADMIN),  # as POST /api/alerts/test
    Action("alerts.notificationchannel", "disable", ADMIN),
    Action("alerts.escalationpolicy", "delete_selected", ADMIN, 200),
    Action("alerts.notification", "delete_selected", ADMIN, 200),
    Action("alerts.silence", "delete_selected", ADMIN, 200),
    Action("alerts.silence", "expire_now", OPERATOR),
    Action("alerts.maintenancewindow", "delete_selected", ADMIN, 200),
    Action("alerts.maintenancewindow", "expire_now", ADMIN),
    Action("alerts.anomalydetector", "delete_selected", ADMIN, 200),
    Action("alerts.anomalyscore", "delete_selected", ADMIN, 200),
    Action("reports.report", "delete_selected", ADMIN, 200),
    Action("reports.report", "send_by_email", ADMIN),
    Action("reports.reportdelivery", "delete_selected", ADMIN, 200),
]


@dataclass(frozen=True)
class Page:
    """One admin request derived from a ``Pages`` row."""

    model: str
    page: str  # changelist, add, change, delete, history, version, revert
    method: str
    least: str | None
    ok: int = 200
    data: dict[str, Any] = field(default_factory=dict)

    def expected(self) -> tuple[int, ...]:
        return tuple(
            302
            if role in ("anonymous", "viewer")
            else (self.ok if _allowed(role, self.least) else 403)
            for role in ROLES
        )


def admin_pages() -> list[Page]:
    """Every page of every row of ``PAGES`` (history versions for models with an edit history)."""
    pages = []
    for row in _registered(PAGES):
        seen = _least_of(row.view, row.change)
        pages += [
            Page(row.model, "changelist", "get", seen),
            Page(row.model, "add", "get", row.add),
            Page(row.model, "add", "post", row.add),  # empty: the form again, with its errors
            Page(row.model, "change", "get", seen),
            Page(row.model, "change", "post", row.change, 302 if row.saved_empty else 200),
            Page(row.model, "delete", "get", row.delete),
            Page(row.model, "delete", "post", row.delete, 302, {"post": "yes"}),
            Page(row.model, "history", "get", seen),
        ]
        if isinstance(_model_admin(row.model), SimpleHistoryAdmin):
            pages += [
                Page(row.model, "version", "get", seen),
                Page(row.model, "revert", "post", row.change),
            ]
    return pages


def _registered(rows: list[Any]) -> list[Any]:
    """The rows whose model is registered (django-q2 shows its ORM queue only without Redis)."""
    labels = {model._meta.label_lower for model in admin.site._registry}
    return [row for row in rows if row.model in labels]


def _least_of(*roles: str | None) -> str | None:
    ranked = [role for role in roles if role is not None]
    return min(ranked, key=RANK.__getitem__) if ranked else None


def _model_admin(label: str) -> admin.ModelAdmin:
    for model, model_admin in admin.site._registry.items():
        if model._meta.label_lower == label:
            return model_admin
    raise KeyError(label)


# --- the cast and the world ---------------------------------------------------------------------


@pytest.fixture
def cast(db: Any) -> dict[str, Client]:
    """A client per role: signed in to the site and carrying a JWT for the API."""
    seed_roles(lambda line: None)
    clients = {"anonymous": Client()}
    for role in ROLES[1:]:
        # No passwords (force_login needs none): hashing them would cost more than the requests.
        if role == SUPERUSER:
            user = User.objects.create_superuser(f"{role}-user", "", None)
        else:
            user = User.objects.create_user(f"{role}-user")
            user.groups.add(Group.objects.get(name=Role[role.upper()].group_name))
        client = Client(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
        client.force_login(user)
        clients[role] = client
    return clients


@pytest.fixture
def world(
    cast: dict[str, Client], settings: Any, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """One row of every registered model, and what the requests above need."""
    from django_q.conf import Conf

    from tests.support.permission_world import build_world

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.REPORT_RECIPIENTS = ["ops@example.com"]
    # A resubmitted task runs at once, inside the rolled-back savepoint, not through a broker.
    monkeypatch.setattr(Conf, "SYNC", True)
    return build_world()


def _ask(client: Client, method: str, url: str, data: Any, *, as_json: bool) -> int:
    """One request inside a savepoint that is rolled back: every role meets the same world."""
    with transaction.atomic():
        if as_json and data is not None:
            response = getattr(client, method)(url, json.dumps(data), "application/json")
        else:
            response = getattr(client, method)(url, data or {})
        transaction.set_rollback(True)
    return response.status_code


def _ask_everyone(cast: dict[str, Client], method: str, url: str, data: Any, **kw: Any) -> tuple:
    return tuple(_ask(cast[role], method, url, data, **kw) for role in ROLES)


# --- the tests ----------------------------------------------------------------------------------


@pytest.mark.parametrize("row", API, ids=[f"{row.method.upper()} {row.name}" for row in API])
def test_each_api_operation_answers_each_role_as_the_matrix_says(
    cast: dict[str, Client], world: dict[str, Any], row: Api
) -> None:
    url = reverse(row.name, args=[_pk(world[name]) for name in row.args])
    url += row.query.format(**{key: _pk(value) for key, value in world.items()})
    body = json.loads(json.dumps(row.body).replace("{in_an_hour}", world["in_an_hour"]))
    got = _ask_everyone(cast, row.method, url, body, as_json=True)
    assert dict(zip(ROLES, got, strict=True)) == dict(zip(ROLES, row.expected(), strict=True))


@pytest.mark.parametrize(
    "page", admin_pages(), ids=lambda page: f"{page.model} {page.page} {page.method.upper()}"
)
def test_each_admin_page_answers_each_role_as_the_matrix_says(
    cast: dict[str, Client], world: dict[str, Any], page: Page
) -> None:
    got = _ask_everyone(cast, page.method, _page_url(page, world), page.data, as_json=False)
    assert dict(zip(ROLES, got, strict=True)) == dict(zip(ROLES, page.expected(), strict=True))


@pytest.mark.parametrize(
    "row", _registered(ACTIONS), ids=[f"{row.model} {row.name}" for row in _registered(ACTIONS)]
)
def test_each_admin_action_runs_only_for_the_roles_the_matrix_allows(
    cast: dict[str, Client], world: dict[str, Any], row: Action
) -> None:
    obj = world[row.model]
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_changelist")
    data = {"action": row.name, "_selected_action": [obj.pk]}
    got = _ask_everyone(cast, "post", url, data, as_json=False)
    expected = tuple(
        302 if role in ("anonymous", "viewer") else (row.ok if _allowed(role, row.least) else 403)
        for role in ROLES
    )
    assert dict(zip(ROLES, got, strict=True)) == dict(zip(ROLES, expected, strict=True))


def test_every_operation_has_a_row() -> None:
    """A new endpoint, admin model or action fails here until the table says who may use it."""
    api, found = {row.key for row in API}, set(_api_operations())
    _same(found, api, "API operations")
    registered = {model._meta.label_lower for model in admin.site._registry}
    optional = {row.model for row in PAGES if row.optional}
    _same(registered | optional, {row.model for row in PAGES}, "admin models")
    declared = {
        (model._meta.label_lower, name)
        for model, model_admin in admin.site._registry.items()
        for _func, name, _description in model_admin._get_base_actions()  # type: ignore[attr-defined]
    }
    rows = {(row.model, row.name) for row in ACTIONS if row.model in registered}
    _same(declared, rows, "admin actions")


def _same(found: set[Any], rows: set[Any], what: str) -> None:
    missing, gone = sorted(found - rows), sorted(rows - found)
    assert not missing, f"{what} missing from the table: {missing}"
    assert not gone, f"rows for {what} that no longer exist: {gone}"


def test_the_world_has_an_object_of_every_registered_model(world: dict[str, Any]) -> None:
    for model in admin.site._registry:
        assert isinstance(world.get(model._meta.label_lower), model), model._meta.label_lower


# --- helpers ------------------------------------------------------------------------------------


def _pk(value: Any) -> Any:
    return value.pk if isinstance(value, Model) else value


def _page_url(page: Page, world: dict[str, Any]) -> str:
    obj = world[page.model]
    prefix = f"admin:{obj._meta.app_label}_{obj._meta.model_name}"
    if page.page in ("changelist", "add"):
        return reverse(f"{prefix}_{page.page}")
    if page.page in ("version", "revert"):
        version = obj.history.order_by("-history_id").first()
        return reverse(f"{prefix}_simple_history", args=[obj.pk, version.history_id])
    return reverse(f"{prefix}_{page.page}", args=[obj.pk])


def _api_operations() -> Iterator[tuple[str, str]]:
    """(METHOD, url name) of every operation outside the admin, from the URL resolver."""
    for pattern in _patterns(get_resolver().url_patterns):
        callback = pattern.callback
        actions = getattr(callback, "actions", None)
        view = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
        if actions:
            methods = [method for method in HTTP_METHODS if method in actions]
        elif view is not None:
            allowed = getattr(view, "http_method_names", HTTP_METHODS)
            methods = [m for m in HTTP_METHODS if m in allowed and hasattr(view, m)]
        else:
            methods = ["get"]  # a plain function view
        for method in methods:
            yield (method.upper(), pattern.name or str(pattern.pattern))


def _patterns(patterns: list[Any], prefix: str = "") -> Iterator[URLPattern]:
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            if not route.startswith("admin/"):
                yield from _patterns(pattern.url_patterns, route)
        elif not route.startswith("admin/"):
            yield pattern
