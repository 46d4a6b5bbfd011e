"""Email goes through a real SMTP server (aiosmtpd on 127.0.0.1); its replies decide retries."""

from __future__ import annotations

import pytest
from django.test.utils import override_settings

from alerts.channels.base import AlertMessage, ChannelError
from alerts.channels.email import EmailChannel
from tests.support.smtp import SmtpServer


def channel(*to: str) -> EmailChannel:
    return EmailChannel({"to": list(to or ["oncall@example.com"])})


def test_a_delivered_email_has_both_parts_and_returns_its_message_id(
    smtp_server: SmtpServer, message: AlertMessage
) -> None:
    receipt = channel("oncall@example.com", "lead@example.com").send(message)

    [received] = smtp_server.messages
    assert received.mail_from == "alerts@tickettoken.example"
    assert received.rcpt_tos == ["oncall@example.com", "lead@example.com"]
    assert received.message["Subject"] == (
        "[CRITICAL] Firing: High payment error rate (env=prod, service=payment)"
    )
    assert received.message["Message-ID"].strip() == receipt.message_id  # may be folded
    assert received.message["References"] == "<alert-42.3f2a9c0d4e5b6a71@tickettoken.example>"
    assert "Value:       12.5 (> threshold 5)" in received.part("text/plain")
    assert "https://monitor.example.com/alerts/ack/tok123" in received.part("text/html")
    assert (receipt.status, receipt.message_id.endswith("@tickettoken.example>")) == (250, True)


def test_a_451_at_data_is_a_transient_error_and_the_retry_is_delivered(
    smtp_server: SmtpServer, message: AlertMessage
) -> None:
    smtp_server.reply(451, times=1)

    with pytest.raises(ChannelError) as caught:
        channel().send(message)
    receipt = channel().send(message)

    assert (caught.value.permanent, caught.value.status) == (False, 451)
    assert "451" in caught.value.message
    assert receipt.status == 250
    assert len(smtp_server.messages) == 1


def test_a_550_at_data_is_permanent(smtp_server: SmtpServer, message: AlertMessage) -> None:
    smtp_server.reply(550, times=1)

    with pytest.raises(ChannelError) as caught:
        channel().send(message)

    assert (caught.value.permanent, caught.value.status) == (True, 550)
    assert smtp_server.messages == []


def test_a_refused_recipient_is_a_permanent_bad_address(
    smtp_server: SmtpServer, message: AlertMessage
) -> None:
    smtp_server.reject("gone@example.com")

    with pytest.raises(ChannelError) as caught:
        channel("gone@example.com").send(message)

    assert (caught.value.permanent, caught.value.status) == (True, 550)
    assert "gone@example.com: 550" in caught.value.message


def test_a_recipient_deferred_with_450_is_transient(
    smtp_server: SmtpServer, message: AlertMessage
) -> None:
    smtp_server.reply(450, stage="RCPT", times=1)

    with pytest.raises(ChannelError) as caught:
        channel().send(message)

    assert (caught.value.permanent, caught.value.status) == (False, 450)


def test_an_unreachable_smtp_server_is_transient(
    smtp_server: SmtpServer, message: AlertMessage
) -> None:
    smtp_server.stop()

    with pytest.raises(ChannelError) as caught:
        channel().send(message)

    assert caught.value.permanent is False
    assert caught.value.message.startswith("SMTP connection failed")


def test_a_malformed_stored_address_is_permanent(
    smtp_server: SmtpServer, message: AlertMessage
) -> None:
    with pytest.raises(ChannelError) as caught:
        channel("not an address@@example.com").send(message)

    assert caught.value.permanent is True
    assert smtp_server.messages == []


def test_the_channel_sender_overrides_the_default(
    smtp_server: SmtpServer, message: AlertMessage
) -> None:
    EmailChannel({"to": ["oncall@example.com"], "from": "pager@example.org"}).send(message)

    assert smtp_server.messages[0].mail_from == "pager@example.org"


def test_without_smtp_the_configured_backend_is_used(message: AlertMessage) -> None:
    from django.core import mail

    with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
        mail.outbox = []
        receipt = channel().send(message)

    assert [m.subject for m in mail.outbox] == [
        "[CRITICAL] Firing: High payment error rate (env=prod, service=payment)"
    ]
    assert receipt.message_id == mail.outbox[0].extra_headers["Message-ID"]


def test_without_any_mail_transport_the_send_fails_permanently_with_the_fix(
    message: AlertMessage,
) -> None:
    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.console.EmailBackend", DEBUG=False
    ):
        with pytest.raises(ChannelError) as caught:
            channel().send(message)

    assert caught.value.permanent is True
    assert "set SMTP_HOST" in caught.value.message
