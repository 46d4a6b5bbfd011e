"""PagerDuty's REST API v2: create, acknowledge and resolve one incident per alert.

The mode of the original service's ``PAGERDUTY_API_KEY`` + ``PAGERDUTY_SERVICE_ID`` (with
``PAGERDUTY_FROM``, the e-mail of the PagerDuty user the changes are made as). An incident is
created with ``incident_key`` = the alert's dedup key, so a repeated trigger cannot open a second
one: PagerDuty refuses it (400, code 2002) and the open incident is used. Acknowledge and
resolve find the open incident by that key (``GET /incidents?incident_key=``), so nothing has to
remember PagerDuty's incident id between messages.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import requests
from django.conf import settings

from alerts.channels import http
from alerts.channels.base import AlertMessage, ChannelError, Receipt, message_context, one_line
from alerts.channels.base import render as render_template
from alerts.severity import UNKNOWN_PAGERDUTY_URGENCY, Severity

logger = logging.getLogger(__name__)

MEDIA_TYPE = "application/vnd.pagerduty+json;version=2"
TITLE_LIMIT = 1024
DUPLICATE_CODE = 2002
DUPLICATE_TEXT = "matching dedup key already exists"
# Which open incidents a status change applies to (acknowledging twice changes nothing).
UPDATES = {"acknowledged": ("triggered",), "resolved": ("triggered", "acknowledged")}


def build_incident(message: AlertMessage, *, service_id: str, incident_key: str) -> dict[str, Any]:
    """The body of ``POST /incidents`` for a firing (escalated, reminder, test) message."""
    context = message_context(message)
    title = one_line(render_template("pagerduty_summary.txt", context), TITLE_LIMIT)
    details = render_template("pagerduty_rest_details.txt", context)
    return {
        "incident": {
            "type": "incident",
            "title": title,
            "service": {"id": service_id, "type": "service_reference"},
            "urgency": _urgency(message.severity),
            "incident_key": incident_key,
            "body": {"type": "incident_body", "details": details},
        }
    }


def build_update(status: str) -> dict[str, Any]:
    """The body of ``PUT /incidents/<id>``: ``acknowledged`` or ``resolved``."""
    return {"incident": {"type": "incident_reference", "status": status}}


class RestClient:
    """Calls to the REST API as one PagerDuty user (``From``) with one API key."""

    def __init__(self, *, api_key: str, service_id: str, sender: str) -> None:
        self.service_id = service_id
        self.headers = {
            "Authorization": f"Token token={api_key}",
            "From": sender,
            "Accept": MEDIA_TYPE,
            "Content-Type": "application/json",
            "User-Agent": "tickettoken-monitoring",
        }

    def trigger(self, body: dict[str, Any], key: str) -> Receipt:
        """Open the alert's incident (``body`` from ``build_incident``), or find it open
        already (a retry, an escalation, a duplicate after a crash)."""
        try:
            response = self._call("POST", "/incidents", body=body)
        except ChannelError as exc:
            if not (exc.status == 400 and DUPLICATE_TEXT in exc.message):
                raise
            found = self.open_incidents(key, ("triggered", "acknowledged"))
            if not found:  # resolved in between: the next retry opens a new one
                raise ChannelError(exc.message, permanent=False, status=400) from None
            return Receipt(status=200, message_id=found[0]["id"], detail="incident already open")
        incident = _incident(response)
        return Receipt(
            status=response.status_code,
            message_id=str(incident.get("id", "")),
            detail=f"incident #{incident.get('incident_number', '?')} {incident.get('status', '')}",
        )

    def change(self, key: str, status: str) -> Receipt:
        """Acknowledge or resolve every open incident of the alert (normally one)."""
        found = self.open_incidents(key, UPDATES[status])
        if not found:
            return Receipt(status=200, message_id=key, detail=f"no incident to mark {status}")
        answers = [
            self._call("PUT", f"/incidents/{incident['id']}", body=build_update(status)).status_code
            for incident in found
        ]
        ids = ", ".join(str(incident["id"]) for incident in found)
        return Receipt(status=answers[-1], message_id=ids, detail=f"incident {status}")

    def open_incidents(self, key: str, statuses: tuple[str, ...]) -> list[dict[str, Any]]:
        params: dict[str, str | list[str]] = {
            "incident_key": key,
            "statuses[]": list(statuses),
            "service_ids[]": [self.service_id],
            "date_range": "all",  # else only the last 30 days are searched
        }
        response = self._call("GET", "/incidents", params=params)
        try:
            incidents = response.json().get("incidents")
        except (ValueError, AttributeError):
            incidents = None
        if not isinstance(incidents, list):
            raise ChannelError("PagerDuty answered without an incident list", permanent=False)
        return [i for i in incidents if isinstance(i, dict) and i.get("incident_key") == key]

    def _call(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, str | list[str]] | None = None,
    ) -> requests.Response:
        return http.call(
            method,
            settings.PAGERDUTY_API_URL.rstrip("/") + path,
            headers=self.headers,
            body=json.dumps(body).encode() if body is not None else None,
            params=params,
            guarded=False,
            follow_redirects=False,
        )


def _incident(response: requests.Response) -> dict[str, Any]:
    try:
        incident = response.json().get("incident")
    except (ValueError, AttributeError):
        incident = None
    return incident if isinstance(incident, dict) else {}


def _urgency(severity: str) -> str:
    known = Severity.of(severity)
    return known.pagerduty_urgency if known is not None else UNKNOWN_PAGERDUTY_URGENCY
