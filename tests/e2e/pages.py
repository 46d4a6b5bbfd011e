"""What the receivers got, read back as pages: which channel, which alert, which event, when."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tests.support.fake_vendors import PagerDutyServer, SlackServer, WebhookReceiver
from tests.support.smtp import SmtpServer

ALERT_URL = re.compile(r"/alerts/(?:alert/)?([0-9]+)/")  # the alert page, or its admin page
DEDUP_KEY = re.compile(r"^tickettoken-alert-([0-9]+)-")
SLACK_EVENT = re.compile(r"\] (Firing|Acknowledged|Resolved|Escalated|Reminder|Test)\b")
PAGERDUTY_ACTIONS = {"acknowledge": "acknowledged", "resolve": "resolved"}


@dataclass(frozen=True)
class Page:
    """One message a receiver accepted: ``event`` is the service's (firing, escalated, ...)."""

    channel: str  # email | slack | pagerduty | webhook
    alert_id: int | None
    event: str
    at: float  # Unix time of arrival

    def describe(self, origin: float) -> str:
        return f"{self.channel} {self.event} of alert {self.alert_id} at +{self.at - origin:.1f} s"


def slack_pages(slack: SlackServer) -> list[Page]:
    pages = []
    for request in slack.answered(200):
        body: dict[str, Any] = request.json()
        event = SLACK_EVENT.search(str(body.get("text", "")))
        urls = [
            str(element.get("url", ""))
            for block in body.get("blocks", [])
            if block.get("type") == "actions"
            for element in block.get("elements", [])
        ]
        found = next((ALERT_URL.search(url) for url in urls if ALERT_URL.search(url)), None)
        pages.append(
            Page(
                "slack",
                int(found.group(1)) if found else None,
                event.group(1).lower() if event else "unknown",
                request.at.timestamp(),
            )
        )
    return pages


def pagerduty_pages(pagerduty: PagerDutyServer) -> list[Page]:
    pages = []
    for request in pagerduty.answered(202):
        event: dict[str, Any] = request.json()
        found = DEDUP_KEY.match(str(event.get("dedup_key", "")))
        action = str(event.get("event_action", ""))
        details = (event.get("payload") or {}).get("custom_details") or {}
        kind = PAGERDUTY_ACTIONS.get(action) or str(details.get("event", "unknown"))
        alert_id = int(found.group(1)) if found else None
        pages.append(Page("pagerduty", alert_id, kind, request.at.timestamp()))
    return pages


def webhook_pages(webhook: WebhookReceiver) -> list[Page]:
    pages = []
    for request in webhook.answered(200):
        body: dict[str, Any] = request.json()
        alerts = body.get("alerts") or [{}]
        found = ALERT_URL.search(str(alerts[0].get("generatorURL", "")))
        event = request.header("x-alert-event") or "unknown"
        alert_id = int(found.group(1)) if found else None
        pages.append(Page("webhook", alert_id, event, request.at.timestamp()))
    return pages


def email_pages(smtp: SmtpServer) -> list[Page]:
    pages = []
    for received in smtp.messages:
        raw_id = str(received.message.get("X-Alert-Id", ""))
        event = str(received.message.get("X-Alert-Event", "unknown"))
        alert_id = int(raw_id) if raw_id.isdigit() else None
        pages.append(Page("email", alert_id, event, received.at.timestamp()))
    return pages


def all_pages(
    *, slack: SlackServer, pagerduty: PagerDutyServer, webhook: WebhookReceiver, smtp: SmtpServer
) -> list[Page]:
    pages = [
        *slack_pages(slack),
        *pagerduty_pages(pagerduty),
        *webhook_pages(webhook),
        *email_pages(smtp),
    ]
    return sorted(pages, key=lambda page: page.at)
