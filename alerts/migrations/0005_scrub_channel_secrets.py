"""Mask the channel secrets already stored in the edit history (they are masked on write now).

The keys and the mask are copied here, as they were when this migration was written, so that it
does the same thing whatever later code says. Reversing it restores nothing: a scrubbed secret
is gone from the history (the channel itself keeps its secret).
"""

from django.db import migrations

SECRET_KEYS = ("webhook_url", "token", "routing_key", "secret")
MASK = "••••"
HINT_FROM_LENGTH = 16
BATCH = 500


def mask(value):
    text = str(value)
    if text.startswith(MASK):
        return text
    return MASK + text[-4:] if len(text) >= HINT_FROM_LENGTH else MASK


def scrub(config):
    if not isinstance(config, dict):
        return config
    return {
        key: mask(value) if key in SECRET_KEYS and value else value
        for key, value in config.items()
    }


def scrub_history(apps, schema_editor):
    history = apps.get_model("alerts", "HistoricalNotificationChannel")
    changed = []
    for row in history.objects.only("history_id", "config").iterator(chunk_size=BATCH):
        clean = scrub(row.config)
        if clean != row.config:
            row.config = clean
            changed.append(row)
        if len(changed) >= BATCH:
            history.objects.bulk_update(changed, ["config"])
            changed = []
    history.objects.bulk_update(changed, ["config"])


class Migration(migrations.Migration):
    dependencies = [("alerts", "0004_silences")]

    operations = [migrations.RunPython(scrub_history, migrations.RunPython.noop, elidable=False)]
