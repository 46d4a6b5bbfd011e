"""The demo's receivers record what they accept; /demo/inbox/ shows it, in demo mode only."""

from __future__ import annotations

import json
import smtplib
import socket
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import requests
from django.contrib.auth.models import Group, User
from django.test import Client

from demo.inbox import Delivery, read, record
from demo.platform import PortInUse
from demo.receivers import ReceiverPorts, Receivers
from monitoring_site.bootstrap import seed_roles
from tests.demo.processes import free_block


@pytest.fixture
def receivers(tmp_path: Path) -> Iterator[Receivers]:
    running = Receivers(
        ports=ReceiverPorts.from_base(free_block(4)), inbox=tmp_path / "inbox.jsonl"
    )
    running.start()
    yield running
    running.stop()


def test_each_receiver_answers_as_its_vendor_and_records_the_message(
    receivers: Receivers,
) -> None:
    ports = receivers.ports
    message = EmailMessage()
    message["From"], message["To"] = "alerts@demo.local", "oncall@demo.local"
    message["Subject"] = "[CRITICAL] Firing: Service Down (service=payment)"
    message.set_content("payment is down")
    with smtplib.SMTP("127.0.0.1", ports.smtp, timeout=5) as smtp:
        smtp.send_message(message)
    slack = requests.post(ports.slack_url, json={"text": "Firing: Queue Backup\nmint"}, timeout=5)
    pagerduty = requests.post(
        ports.pagerduty_url,
        json={"routing_key": "r" * 32, "event_action": "trigger", "dedup_key": "k1",
              "payload": {"summary": "payment is down", "severity": "critical"}},
        timeout=5,
    )  # fmt: skip
    webhook = requests.post(
        ports.webhook_url,
        json={"alerts": [{"status": "firing", "annotations": {"summary": "payment is down"}}]},
        timeout=5,
    )
    assert (slack.status_code, slack.text) == (200, "ok")
    assert (pagerduty.status_code, pagerduty.json()["status"]) == (202, "success")
    assert webhook.status_code == 200
    got = {d.channel: d for d in read(receivers.inbox)}
    assert got["email"].title == "[CRITICAL] Firing: Service Down (service=payment)"
    assert got["email"].to == "oncall@demo.local" and "payment is down" in got["email"].text
    assert got["slack"].title == "Firing: Queue Backup"
    assert got["pagerduty"].title == "trigger: payment is down"
    assert "r" * 32 not in receivers.inbox.read_text()  # the routing key is not recorded
    assert got["webhook"].title == "firing: payment is down"


def test_a_receiver_refuses_what_its_vendor_would(receivers: Receivers) -> None:
    wrong_path = requests.post(f"http://127.0.0.1:{receivers.ports.slack}/services/x", json={},
                               timeout=5)  # fmt: skip
    not_json = requests.post(receivers.ports.webhook_url, data=b"<xml/>", timeout=5)
    assert (wrong_path.status_code, not_json.status_code) == (404, 400)
    assert read(receivers.inbox) == []


def test_a_port_in_use_is_named(tmp_path: Path) -> None:
    base = free_block(4)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", base + 2))
        taken.listen()
        with pytest.raises(PortInUse, match=rf"port {base + 2} \(demo pagerduty receiver\)"):
            Receivers(ports=ReceiverPorts.from_base(base), inbox=tmp_path / "i.jsonl").start()
    # Nothing was left listening: the same ports start cleanly now.
    Receivers(ports=ReceiverPorts.from_base(base), inbox=tmp_path / "i.jsonl").start().stop()


def test_the_inbox_reads_newest_first_and_skips_a_broken_line(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox.jsonl"
    record(inbox, Delivery("email", "a@b", "first", "x" * 5000))
    with inbox.open("a") as file:
        file.write("{broken\n")
    record(inbox, Delivery("slack", "#alerts", "second", "y"))
    first, second = reversed(read(inbox))
    assert (first.title, second.title) == ("first", "second")
    assert len(first.text) == 2000 and first.at


@pytest.mark.django_db
@pytest.mark.urls("tests.demo.demo_urls")
def test_the_inbox_page_shows_the_deliveries_to_viewers(tmp_path: Path, settings: Any) -> None:
    inbox = tmp_path / "inbox.jsonl"
    settings.DEMO_INBOX_FILE = str(inbox)
    settings.DASHBOARD_PUBLIC = False
    record(inbox, Delivery("email", "oncall@demo.local", "[CRITICAL] Firing: Service Down", "x"))
    seed_roles(lambda line: None)
    viewer = User.objects.create_user("vic", password="pw-123456789")
    viewer.groups.add(Group.objects.get(name="viewer"))
    nobody = User.objects.create_user("nobody", password="pw-123456789")
    client = Client()
    assert client.get("/demo/inbox/").status_code == 302  # to the login page
    client.force_login(nobody)
    assert client.get("/demo/inbox/").status_code == 403
    client.force_login(viewer)
    page = client.get("/demo/inbox/")
    assert page.status_code == 200
    assert "[CRITICAL] Firing: Service Down" in page.content.decode()
    assert page.context["counts"] == {"email": 1, "slack": 0, "pagerduty": 0, "webhook": 0}


@pytest.mark.django_db
def test_without_demo_mode_there_is_no_inbox_page_and_no_link(
    admin_client: Client,
) -> None:
    assert admin_client.get("/demo/inbox/").status_code == 404
    assert b"demo-inbox" not in admin_client.get("/").content


def test_deliveries_are_json_lines(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox.jsonl"
    record(inbox, Delivery("webhook", "hook", "t", "body"))
    line = json.loads(inbox.read_text())
    assert set(line) == {"channel", "to", "title", "text", "at"}
