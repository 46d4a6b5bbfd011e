"""Settings of reports, read from the environment (imported into monitoring_site.settings)."""

from __future__ import annotations

import re

from django.core.exceptions import ImproperlyConfigured

from monitoring_site.env import env_int, env_list, env_str


def _clock_time(name: str, default: str) -> str:
    """``HH:MM`` on a 24-hour clock."""
    value = env_str(name, default)
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", value)
    if not match:
        raise ImproperlyConfigured(f"{name}={value!r}: expected a time as HH:MM, such as 08:00")
    return f"{int(match[1]):02d}:{match[2]}"


# When the daily report of yesterday is made and sent, on the clock of TIME_ZONE.
REPORT_TIME = _clock_time("REPORT_TIME", "08:00")
# Who receives it (comma-separated); unset: the default alert recipients (ALERT_TO_EMAIL).
REPORT_RECIPIENTS = env_list("REPORT_RECIPIENTS", env_list("ALERT_TO_EMAIL", []))
# After an outage the daily job makes the reports of the days it missed, at most this many.
REPORT_CATCH_UP_DAYS = env_int("REPORT_CATCH_UP_DAYS", 7, minimum=1, maximum=31)
# Stored reports are kept this many days.
REPORT_RETENTION_DAYS = env_int("REPORT_RETENTION_DAYS", 400, minimum=7)
