"""Replace the DSN passwords already stored in the services' edit history with ``***``.

New history rows are masked on write. The patterns are copied from ``health.probes.base.redact``
as they were when this migration was written. Reversing it restores nothing.
"""

import re

from django.db import migrations

URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@]*@")
KEYWORD_PASSWORD = re.compile(r"(?i)\b(password|passwd|pwd)\s*=\s*\S+")
BATCH = 500


def redact(text):
    text = URL_CREDENTIALS.sub(r"\g<scheme>***@", text)
    return KEYWORD_PASSWORD.sub(r"\1=***", text)


def scrub_history(apps, schema_editor):
    history = apps.get_model("health", "HistoricalService")
    changed = []
    for row in history.objects.only("history_id", "target").iterator(chunk_size=BATCH):
        clean = redact(row.target)
        if clean != row.target:
            row.target = clean
            changed.append(row)
        if len(changed) >= BATCH:
            history.objects.bulk_update(changed, ["target"])
            changed = []
    history.objects.bulk_update(changed, ["target"])


class Migration(migrations.Migration):
    dependencies = [("health", "0001_initial")]

    operations = [migrations.RunPython(scrub_history, migrations.RunPython.noop, elidable=False)]
