"""Write a detector's series into metric storage: 5-minute rollups, and minute buckets lately.

Each 5-minute step of a counter holds its value as the step's increase (spread evenly over its
minutes); the minute buckets are written only for the steps since ``buckets_from`` (what the
scoring run reads), as the real storage keeps them 48 hours while rollups stay 35 days.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np

from alerts.anomalies import History
from metrics_app.models import Bucket, Rollup, Series

NAME = "tickets_sold_total"
LABELS = {"service": "ticket"}
EXPRESSION = f"sum(increase({NAME}[5m]))"


def write_counter(
    history: History,
    *,
    buckets_from: datetime,
    name: str = NAME,
    labels: dict[str, str] | None = None,
) -> Series:
    """A counter series whose increase over each 5-minute step is ``history``'s value."""
    labels = labels or LABELS
    times = [datetime.fromtimestamp(int(t), UTC) for t in history.times]
    values = [float(v) for v in np.maximum(history.values, 0.0)]
    series = Series.objects.create(
        name=name,
        family=name,
        labels=labels,
        labels_key=json.dumps(sorted(labels.items())),
        kind="counter",
        value=sum(values),
        value_at=times[-1] + timedelta(minutes=5),
        created_at=times[0],
        updated_at=times[-1] + timedelta(minutes=5),
    )
    Rollup.objects.bulk_create(
        [
            Rollup(
                series=series,
                resolution=300,
                start=at,
                count=5,
                sum=value,
                min=value / 5,
                max=value / 5,
                last=value / 5,
                last_at=at + timedelta(minutes=4),
            )
            for at, value in zip(times, values, strict=True)
        ],
        batch_size=2000,
    )
    Bucket.objects.bulk_create(
        [
            Bucket(
                series=series,
                start=at + timedelta(minutes=minute),
                count=1,
                sum=value / 5,
                min=value / 5,
                max=value / 5,
                last=value / 5,
                last_at=at + timedelta(minutes=minute),
            )
            for at, value in zip(times, values, strict=True)
            if at >= buckets_from
            for minute in range(5)
        ],
        batch_size=2000,
    )
    return series
