"""The report e-mail: built from the stored report, sent through the mail setup of notifications,
and retried like a notification (its own small outbox: ``ReportDelivery`` rows).

The alerts outbox carries alert messages to channels; a report is neither, so its rows live here
and reuse what can be shared: Django's mail connection (SMTP or a django-anymail provider), the
e-mail channel's classification of SMTP errors (4xx transient, 5xx permanent), and the same
backoff and give-up age (``NOTIFY_RETRY_*``, ``NOTIFY_MAX_AGE``).
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.mime.image import MIMEImage
from email.utils import make_msgid, parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from alerts.channels.base import ChannelError
from alerts.channels.email import classify_smtp_error as classify_mail_error
from alerts.channels.email import require_transport as require_mail_transport
from alerts.notifications.dispatch import backoff
from reports.charts import CHARTS, render_chart
from reports.models import Report, ReportDelivery

logger = logging.getLogger(__name__)
State = ReportDelivery.State


class _RelatedEmail(EmailMultiAlternatives):
    """The images belong to the HTML part (``cid:`` references): multipart/related, not mixed."""

    mixed_subtype = "related"


@dataclass(frozen=True)
class ReportEmail:
    """One report e-mail: subject, plain text and HTML parts, and the inline chart images."""

    subject: str
    text: str
    html: str
    images: dict[str, bytes]  # Content-ID -> PNG


def subject_for(report: Report) -> str:
    data = report.data
    if not report.has_data:
        return f"TicketToken daily report {report.day:%Y-%m-%d}: no data recorded"
    uptime = data["uptime"]["overall"]
    shown = f"{100 * uptime:.2f}% uptime" if uptime is not None else "no health checks"
    alerts = data["incidents"]["total"]
    return (
        f"TicketToken daily report {report.day:%Y-%m-%d}: {shown}, "
        f"{alerts} alert{'s' if alerts != 1 else ''}"
    )


def build_email(report: Report) -> ReportEmail:
    """The e-mail of a report (pure: the same report gives the same e-mail)."""
    page_url = settings.SITE_URL.rstrip("/") + reverse("report-page", args=[f"{report.day}"])
    context = {"report": report.data, "page_url": page_url}
    return ReportEmail(
        subject=subject_for(report),
        text=render_to_string("reports/email.txt", context),
        html=render_to_string(
            "reports/email.html", {**context, "charts": {n: f"cid:{n}" for n in CHARTS}}
        ),
        images={name: render_chart(name, report.data) for name in CHARTS},
    )


def queue_email(*, report: Report, now: datetime) -> ReportDelivery | None:
    """A delivery to ``REPORT_RECIPIENTS``, due now; None (and a warning) without recipients."""
    if not settings.REPORT_RECIPIENTS:
        logger.warning("no report recipients: set REPORT_RECIPIENTS or ALERT_TO_EMAIL")
        return None
    return ReportDelivery.objects.create(
        report=report, recipients=list(settings.REPORT_RECIPIENTS), created_at=now, due_at=now
    )


def claim_one(*, now: datetime | None = None) -> ReportDelivery | None:
    """Take the most overdue pending delivery under a lease (a conditional UPDATE)."""
    now = now or timezone.now()
    claimable = Q(state=State.QUEUED, due_at__lte=now) | Q(state=State.SENDING, lease_until__lt=now)
    token = uuid.uuid4().hex
    for pk in (
        ReportDelivery.objects.filter(claimable)
        .order_by("due_at", "id")
        .values_list("pk", flat=True)[:5]
    ):
        lease = now + timedelta(seconds=settings.NOTIFY_LEASE_SECONDS)
        taken = ReportDelivery.objects.filter(claimable, pk=pk).update(
            state=State.SENDING, lease_until=lease, claim=token
        )
        if taken:
            return ReportDelivery.objects.select_related("report").get(pk=pk)
    return None


def deliver_step(*, now: datetime | None = None) -> bool:
    """Claim one due delivery and send it; whether there was one."""
    row = claim_one(now=now)
    if row is None:
        return False
    process(row)
    return True


def deliver_due(*, budget: float = 60.0) -> int:
    """Send every due delivery, one at a time, within ``budget`` seconds (the minute job)."""
    deadline, count = time.monotonic() + budget, 0
    while time.monotonic() < deadline and deliver_step():
        count += 1
    return count


def deliver_now(row: ReportDelivery) -> ReportDelivery:
    """Claim this delivery whatever its due time and send it at once (the command's --send)."""
    token = uuid.uuid4().hex
    lease = timezone.now() + timedelta(seconds=settings.NOTIFY_LEASE_SECONDS)
    ReportDelivery.objects.filter(pk=row.pk, state__in=ReportDelivery.PENDING_STATES).update(
        state=State.SENDING, lease_until=lease, claim=token
    )
    claimed = ReportDelivery.objects.select_related("report").get(pk=row.pk)
    if claimed.claim == token:
        process(claimed)
    claimed.refresh_from_db()
    return claimed


def process(row: ReportDelivery) -> str:
    """Send a claimed delivery and record how it went: delivered, retried later, or failed."""
    try:
        require_mail_transport()
        message_id = send(build_email(row.report), recipients=row.recipients)
    except ChannelError as error:
        return _failed(row, error)
    except Exception as exc:  # a bug in building the mail: give up loudly, keep the report
        logger.exception("report e-mail could not be built", extra={"delivery": row.pk})
        return _failed(row, ChannelError(f"{type(exc).__name__}: {exc}", permanent=True))
    ReportDelivery.objects.filter(pk=row.pk, claim=row.claim).update(
        state=State.DELIVERED,
        delivered_at=timezone.now(),
        lease_until=None,
        attempts=F("attempts") + 1,
        message_id=message_id[:300],
        last_error="",
        last_status=250,
    )
    logger.info("report e-mail delivered", extra={"delivery": row.pk, "day": str(row.report.day)})
    return State.DELIVERED


def send(email: ReportEmail, *, recipients: list[str]) -> str:
    """One SMTP (or provider) send; the Message-ID, or ``ChannelError`` classified for retry."""
    sender = settings.ALERT_FROM_EMAIL
    domain = parseaddr(sender)[1].rpartition("@")[2] or None
    message = _RelatedEmail(
        subject=email.subject,
        body=email.text,
        from_email=sender,
        to=recipients,
        headers={"Message-ID": make_msgid("report", domain=domain)},
        connection=get_connection(fail_silently=False),
    )
    message.attach_alternative(email.html, "text/html")
    for name, png in email.images.items():
        image = MIMEImage(png, "png")
        image.add_header("Content-ID", f"<{name}>")
        image.add_header("Content-Disposition", "inline", filename=f"{name}.png")
        message.attach(image)
    try:
        message.send(fail_silently=False)
    except Exception as exc:
        raise classify_mail_error(exc) from exc
    return str(message.extra_headers["Message-ID"])


def _failed(row: ReportDelivery, error: ChannelError) -> str:
    now = timezone.now()
    attempts = row.attempts + 1
    retry_at = now + timedelta(seconds=backoff(attempts, error.retry_after))
    gave_up = error.permanent or retry_at - row.created_at > settings.NOTIFY_MAX_AGE
    state = State.FAILED if gave_up else State.QUEUED
    ReportDelivery.objects.filter(pk=row.pk, claim=row.claim).update(
        state=state,
        due_at=row.due_at if gave_up else retry_at,
        lease_until=None,
        attempts=F("attempts") + 1,
        last_error=error.message[:2000],
        last_status=error.status,
    )
    logger.warning(
        "report e-mail failed",
        extra={"delivery": row.pk, "state": state, "error": error.message[:300]},
    )
    return state
