"""Series.service: which pushing service a label set counts against (issue #10 item 6).

Existing series are attributed to their ``service`` label where they have one: a single-service
token could only push its own, so that is the token's service for nearly every row.
"""

from django.db import migrations, models

BACKFILL = {
    "postgresql": "UPDATE metrics_app_series SET service = LEFT(labels ->> 'service', 100) "
    "WHERE labels ? 'service'",
    "sqlite": "UPDATE metrics_app_series SET service = substr(json_extract(labels, '$.service'), "
    "1, 100) WHERE json_extract(labels, '$.service') IS NOT NULL",
}


def attribute_existing_series(apps, schema_editor):
    sql = BACKFILL.get(schema_editor.connection.vendor)
    if sql:
        schema_editor.execute(sql)


class Migration(migrations.Migration):

    dependencies = [
        ('metrics_app', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='series',
            name='service',
            field=models.CharField(blank=True, default='', help_text='The service of the ingest token that created it (its share of the limit); empty when pushed otherwise.', max_length=100),
        ),
        migrations.RunPython(attribute_existing_series, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name='series',
            index=models.Index(fields=['name', 'service'], name='series_name_service'),
        ),
    ]
