"""Drop three indexes every sample batch paid for and no query needs.

- ``Bucket.series`` and ``FineBucket.series``: the unique (series, start) index serves every
  lookup by series; one index less to write for every new bucket.
- ``Series.updated_at``: every batch updates its series' ``updated_at``, and while that column
  was indexed no such update could be a heap-only (HOT) update: each one wrote a new entry into
  all six indexes of the table. Its readers (the evaluator's "which series just received
  samples", once a second, and the daily cleanup of idle series) scan the table instead.

Only the indexes are dropped: Django's AlterField of a foreign key would also drop and re-add the
constraint, which on PostgreSQL re-checks every stored bucket under a lock that stops ingestion.
"""

from typing import Any

import django.db.models.deletion
from django.db import migrations, models

INDEXED = (("Bucket", "series"), ("FineBucket", "series"), ("Series", "updated_at"))


def drop_indexes(apps: Any, schema_editor: Any) -> None:
    for name, field_name in INDEXED:
        model = apps.get_model("metrics_app", name)
        column = model._meta.get_field(field_name).column
        # (index=True, unique=False: not the unique (series, start) index, nor the foreign key)
        names = schema_editor._constraint_names(model, [column], index=True, unique=False)
        for index in names:
            schema_editor.execute(schema_editor._delete_index_sql(model, index))


def create_indexes(apps: Any, schema_editor: Any) -> None:
    for name, field_name in INDEXED:
        model = apps.get_model("metrics_app", name)
        field = model._meta.get_field(field_name)
        for statement in schema_editor._field_indexes_sql(model, field):
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("metrics_app", "0006_fine_buckets"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(drop_indexes, create_indexes)],
            state_operations=[
                migrations.AlterField(
                    model_name="bucket",
                    name="series",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="buckets",
                        to="metrics_app.series",
                    ),
                ),
                migrations.AlterField(
                    model_name="finebucket",
                    name="series",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="fine_buckets",
                        to="metrics_app.series",
                    ),
                ),
                migrations.AlterField(
                    model_name="series",
                    name="updated_at",
                    field=models.DateTimeField(help_text="Last sample received."),
                ),
            ],
        ),
    ]
