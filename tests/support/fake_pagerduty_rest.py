"""PagerDuty's REST API v2 as far as the channel uses it: incidents and services.

Mixed into ``PagerDutyServer`` (``tests/support/fake_vendors.py``). It answers as PagerDuty does:
``Authorization: Token token=<api key>`` on every call (401 otherwise), a ``From`` header naming
a user on every write (400 otherwise), ``POST /incidents`` refusing a second open incident with
the same ``incident_key`` on a service (400, code 2002), ``GET /incidents`` filtered by
``incident_key``, ``statuses[]`` and ``service_ids[]``, ``PUT /incidents/<id>`` changing the status.
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

Answer = tuple[int, dict[str, str], bytes]
MEDIA_TYPE = "application/vnd.pagerduty+json;version=2"
DUPLICATE = "Open incident with matching dedup key already exists on this service"
NO_FROM = 'You must specify a user\'s email address in the "From" header to perform this action'


@dataclass
class RestIncident:
    """An incident created through the REST API, with its status history and who changed it."""

    id: str
    number: int
    incident_key: str
    service_id: str
    title: str
    urgency: str
    details: str
    status: str = "triggered"
    log: list[tuple[str, str]] = field(default_factory=list)  # (status, From)

    def document(self, base: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "incident",
            "incident_number": self.number,
            "title": self.title,
            "status": self.status,
            "urgency": self.urgency,
            "incident_key": self.incident_key,
            "service": {"id": self.service_id, "type": "service_reference"},
            "html_url": f"{base}/incidents/{self.id}",
        }


def _json(status: int, document: Any) -> Answer:
    return status, {"Content-Type": "application/json"}, json.dumps(document).encode()


def _error(status: int, message: str, code: int, *errors: str) -> Answer:
    return _json(status, {"error": {"message": message, "code": code, "errors": list(errors)}})


class RestApi:
    """The REST endpoints; expects ``self._lock``, ``self.api_key``, ``self.services``."""

    _lock: threading.Lock
    api_key: str
    services: set[str]
    url: str

    def _setup_rest(self, users: Any) -> None:
        self.users = set(users) if users is not None else None
        self.rest_incidents: list[RestIncident] = []
        self._numbers = itertools.count(1)

    def open_rest_incidents(self) -> list[RestIncident]:
        with self._lock:
            return [i for i in self.rest_incidents if i.status != "resolved"]

    def rest(self, request: Any) -> Answer | None:
        """The answer to a REST call, or None when the path is not one of them."""
        method, path = request.method, request.path
        if not (path == "/incidents" or path.startswith(("/incidents/", "/services/"))):
            return None
        if not self.api_key or request.header("authorization") != f"Token token={self.api_key}":
            return _error(401, "Unauthorized", 2006)
        if method in ("POST", "PUT"):
            problem = self._requester_problem(request.header("from"))
            if problem:
                return problem
        if method == "POST" and path == "/incidents":
            return self._create(request)
        if method == "GET" and path == "/incidents":
            return self._list(request.query)
        if method == "PUT" and path.startswith("/incidents/"):
            return self._update(path.rsplit("/", 1)[1], request)
        if method == "GET" and path.startswith("/services/"):
            return self._service(path.rsplit("/", 1)[1])
        return _error(404, "Not Found", 2100)

    def _requester_problem(self, sender: str | None) -> Answer | None:
        if not sender:
            return _error(400, NO_FROM, 2016)
        if self.users is not None and sender not in self.users:
            return _error(400, "Requester User Not Found", 1008)
        return None

    def _create(self, request: Any) -> Answer:
        try:
            incident = request.json()["incident"]
            service_id = incident["service"]["id"]
        except (ValueError, KeyError, TypeError):
            return _error(400, "Invalid Input Provided", 2001, "Incident is invalid.")
        problem = self._invalid(incident, service_id)
        if problem:
            return _error(400, "Invalid Input Provided", 2001, problem)
        key = str(incident.get("incident_key") or "")
        with self._lock:
            if key and any(
                i.incident_key == key and i.service_id == service_id and i.status != "resolved"
                for i in self.rest_incidents
            ):
                return _error(400, "Arguments Caused Error", 2002, DUPLICATE)
            created = self._new(incident, service_id, key, request.header("from"))
        return _json(201, {"incident": created.document(self.url)})

    def _invalid(self, incident: dict[str, Any], service_id: Any) -> str:
        if incident.get("type") != "incident":
            return "Incident type must be incident."
        if not str(incident.get("title") or "").strip():
            return "Title cannot be empty."
        if service_id not in self.services:
            return "Service not found."
        if incident.get("urgency", "high") not in ("high", "low"):
            return "Urgency must be high or low."
        return ""

    def _new(
        self, incident: dict[str, Any], service_id: str, key: str, sender: str
    ) -> RestIncident:
        number = next(self._numbers)
        created = RestIncident(
            id=f"Q{number:06d}INC",
            number=number,
            incident_key=key,
            service_id=service_id,
            title=incident["title"],
            urgency=incident.get("urgency", "high"),
            details=str((incident.get("body") or {}).get("details", "")),
            log=[("triggered", sender)],
        )
        self.rest_incidents.append(created)
        return created

    def _list(self, query: str) -> Answer:
        params = parse_qs(query)
        key = params.get("incident_key", [""])[0] or None
        statuses = set(params.get("statuses[]", [])) or {"triggered", "acknowledged", "resolved"}
        services = set(params.get("service_ids[]", []))
        with self._lock:
            found = [
                i.document(self.url)
                for i in self.rest_incidents
                if (key is None or i.incident_key == key)
                and i.status in statuses
                and (not services or i.service_id in services)
            ]
        return _json(200, {"incidents": found, "limit": 25, "offset": 0, "more": False})

    def _update(self, incident_id: str, request: Any) -> Answer:
        try:
            change = request.json()["incident"]
        except (ValueError, KeyError, TypeError):
            return _error(400, "Invalid Input Provided", 2001, "Incident is invalid.")
        status = change.get("status")
        if change.get("type") not in ("incident", "incident_reference") or status not in (
            "acknowledged",
            "resolved",
        ):
            return _error(400, "Invalid Input Provided", 2001, "Status is invalid.")
        with self._lock:
            incident = next((i for i in self.rest_incidents if i.id == incident_id), None)
            if incident is None:
                return _error(404, "Incident Not Found", 5001)
            incident.status = status
            incident.log.append((status, request.header("from")))
            document = incident.document(self.url)
        return _json(200, {"incident": document})

    def _service(self, service_id: str) -> Answer:
        if service_id not in self.services:
            return _error(404, "Not Found", 2100)
        return _json(
            200, {"service": {"id": service_id, "name": "TicketToken", "status": "active"}}
        )
