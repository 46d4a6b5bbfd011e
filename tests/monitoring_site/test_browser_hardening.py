"""Every page carries the Content-Security-Policy and the Permissions-Policy, and none of them
breaks the policy in a real (headless) Chromium: no inline script or style, no external origin."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from alerts.models import Alert, Notification, NotificationChannel, Rule
from alerts.services import open_alert
from health.models import Service
from monitoring_site.roles import Role
from tests.conftest import PASSWORD
from tests.support.browser import chromium_browser

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Registered before any page script runs, in every document the browser opens.
LISTEN = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} ` +
                    `at ${e.sourceFile}:${e.lineNumber}`);
});
"""

# Answers that are errors on purpose: the admin has no favicon link (the browser asks for one),
# and a forged acknowledge link is a 400 page.
EXPECTED_MISSES = ("/favicon.ico", "/alerts/ack/not-a-token/")


def test_the_policy_allows_this_origin_only_and_no_inline_script(client: Client) -> None:
    response = client.get("/dashboard/login")
    policy = dict(
        part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";")
    )
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["object-src"] == policy["base-uri"] == policy["frame-ancestors"] == "'none'"
    assert "camera=()" in response["Permissions-Policy"]
    assert "geolocation=()" in response["Permissions-Policy"]
    assert "microphone=()" in response["Permissions-Policy"]


@dataclass
class Visit:
    """What the browser saw: violations, console errors, and each document's headers."""

    violations: dict[str, list[str]] = field(default_factory=dict)
    console: list[str] = field(default_factory=list)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)


def _seed() -> dict[str, Any]:
    """An admin, a service with a history, a rule and a firing alert with an acknowledge link."""
    root = User.objects.create_superuser("root-admin", "", PASSWORD)
    root.groups.add(Group.objects.get_or_create(name=Role.ADMIN.group_name)[0])
    service = Service.objects.create(slug="auth", name="Auth", target="http://127.0.0.1:9")
    service.target = "http://127.0.0.1:10"
    service.save()
    channel = NotificationChannel(name="Email", kind="email", config={"to": ["ops@example.com"]})
    channel.full_clean()
    channel.save()
    rule = Rule.objects.create(
        name="Queue high",
        expression="sum(queue_size)",
        operator=">",
        threshold=100.0,
        for_seconds=0,
        severity="warning",
        channels=["email"],
    )
    alert = open_alert(
        rule=rule, source=Alert.Source.RULE, labels={"q": "x"}, value=250.0, now=timezone.now()
    )
    assert alert is not None
    ack_url = Notification.objects.filter(alert=alert).first().payload["ack_url"]  # type: ignore[union-attr]
    client = Client()
    client.force_login(root)
    return {
        "session": client.cookies[django_settings.SESSION_COOKIE_NAME].value,
        "service": service.pk,
        "rule": rule.pk,
        "alert": alert.pk,
        "ack_path": ack_url.removeprefix(django_settings.SITE_URL),
    }


def _admin_pages(seed: dict[str, Any]) -> list[str]:
    """The index, every changelist, every add form the admin offers, change and history pages."""
    request = RequestFactory().get("/admin/")
    request.user = User.objects.get(username="root-admin")
    pages = ["/admin/", "/admin/password_change/"]
    for model, model_admin in admin.site._registry.items():
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        pages.append(reverse(f"{name}_changelist"))
        if model_admin.has_add_permission(request):
            pages.append(reverse(f"{name}_add"))
    for name, pk in (("health_service", seed["service"]), ("alerts_rule", seed["rule"])):
        pages.append(reverse(f"admin:{name}_change", args=[pk]))
        pages.append(reverse(f"admin:{name}_history", args=[pk]))
    pages.append(reverse("admin:alerts_alert_change", args=[seed["alert"]]))
    return pages


def _watch(context: Any, visit: Visit) -> Any:
    page = context.new_page()

    def console(message: Any) -> None:
        url = message.location.get("url", "")
        expected = "Failed to load resource" in message.text and url.endswith(EXPECTED_MISSES)
        if message.type == "error" and not expected:
            visit.console.append(f"{url}: {message.text}")

    page.on("console", console)
    page.on("pageerror", lambda exc: visit.console.append(str(exc)))

    def record(response: Any) -> None:
        if response.request.resource_type == "document":
            visit.headers[response.url] = response.all_headers()

    page.on("response", record)
    return page


def _open(page: Any, url: str, visit: Visit, *, ready: str | None = None) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    if ready:
        page.wait_for_selector(ready, timeout=15_000)
    _collect(page, url, visit)


def _collect(page: Any, url: str, visit: Visit) -> None:
    found = page.evaluate("window.__csp")
    if found:
        visit.violations[url] = found


def test_every_page_carries_both_policies_and_breaks_neither_in_chromium(
    live_server: Any,
) -> None:
    seed = _seed()
    admin_pages = _admin_pages(seed)
    base = live_server.url
    visit = Visit()
    with chromium_browser() as browser:
        anonymous = browser.new_context()
        anonymous.add_init_script(LISTEN)
        page = _watch(anonymous, visit)
        _open(page, base + "/dashboard/login", visit, ready="#id_username")
        _open(page, base + "/admin/login/", visit, ready="#id_username")
        _open(page, base + seed["ack_path"], visit, ready="button[type=submit]")
        page.click("button[type=submit]")
        page.wait_for_selector("h1")
        _collect(page, "acknowledged page", visit)
        assert "acknowledged" in page.inner_text("h1").lower()
        _open(page, base + "/alerts/ack/not-a-token/", visit, ready="h1")
        anonymous.close()

        signed_in = browser.new_context()
        signed_in.add_init_script(LISTEN)
        signed_in.add_cookies(
            [{"name": django_settings.SESSION_COOKIE_NAME, "value": seed["session"], "url": base}]
        )
        page = _watch(signed_in, visit)
        _open(page, base + "/", visit, ready="#dashboard[data-loaded='true']")
        for path in admin_pages:
            _open(page, base + path, visit, ready="#content")
        _open(page, base + "/api/docs/", visit, ready=".swagger-ui .opblock")
        page.locator(".opblock-summary").first.click()
        page.locator(".try-out__btn").first.click()
        page.wait_for_timeout(300)
        _collect(page, "/api/docs/ (an operation opened)", visit)
        seen, visit.console = list(visit.console), []
        _prove_the_listener_reports_violations(page)
        signed_in.close()

    assert visit.violations == {}
    assert seen == []
    assert any("Content Security Policy" in line for line in visit.console)  # the control
    assert len(visit.headers) > 30
    missing = {
        url: sorted({"content-security-policy", "permissions-policy"} - set(headers))
        for url, headers in visit.headers.items()
        if not {"content-security-policy", "permissions-policy"} <= set(headers)
    }
    assert missing == {}


def _prove_the_listener_reports_violations(page: Any) -> None:
    """The check can fail: an inline script and an inline style are reported."""
    page.evaluate(
        """() => {
          window.__csp = [];
          const script = document.createElement("script");
          script.textContent = "window.__ran = true";
          document.head.append(script);
          document.body.insertAdjacentHTML("beforeend", "<style>body { color: red }</style>");
        }"""
    )
    page.wait_for_function("window.__csp.length >= 2")
    directives = sorted(entry.split(" ")[0] for entry in page.evaluate("window.__csp"))
    assert directives == ["script-src-elem", "style-src-elem"]
    assert page.evaluate("window.__ran") is None
    page.evaluate("window.__csp = []")
