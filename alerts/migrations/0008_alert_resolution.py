# What resolved an alert, for the resolved message (issue #19).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0007_channel_pause"),
    ]

    operations = [
        migrations.AddField(
            model_name="alert",
            name="fired_seconds",
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="alert",
            name="resolved_value",
            field=models.FloatField(blank=True, null=True),
        ),
    ]
