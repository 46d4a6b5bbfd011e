# The evaluator loop's lease and heartbeat, and why each cycle ran (issue #19).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0008_alert_resolution"),
    ]

    operations = [
        migrations.CreateModel(
            name="EvaluatorHeartbeat",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=50, unique=True)),
                ("holder", models.CharField(blank=True, max_length=64)),
                ("host", models.CharField(blank=True, max_length=255)),
                ("pid", models.IntegerField(blank=True, null=True)),
                ("since", models.DateTimeField(blank=True, help_text="When the holder took it.", null=True)),
                ("beat_at", models.DateTimeField(blank=True, help_text="The holder's last turn.", null=True)),
                ("expires_at", models.DateTimeField(blank=True, null=True)),
                ("last_cycle_at", models.DateTimeField(blank=True, null=True)),
            ],
        ),
        migrations.AddField(
            model_name="evaluationcycle",
            name="reason",
            field=models.CharField(
                choices=[
                    ("schedule", "the interval's grid"),
                    ("samples", "their series received samples"),
                    ("for", "a pending alert's for ends"),
                    ("fallback", "the minute job (no evaluator)"),
                    ("manual", "by hand"),
                ],
                default="schedule",
                help_text="Why it ran; all enabled rules for schedule, fallback and manual, else some.",
                max_length=10,
            ),
        ),
    ]
