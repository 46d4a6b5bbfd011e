"""Settings of metrics_app, read from the environment (imported into monitoring_site.settings).

``PROMETHEUS_IPS``, ``METRICS_TOKEN``, ``METRICS_PUBLIC`` and ``INFLUXDB_*`` are read by the
foundation's settings module; this block adds the knobs of ingestion, storage and exposition.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from monitoring_site.env import env_bool, env_float, env_int, env_secret, env_str, env_url

# --- ingestion -----------------------------------------------------------------------------------
METRICS_INGEST_MAX_SAMPLES = env_int("METRICS_INGEST_MAX_SAMPLES", 5000, minimum=1)
METRICS_INGEST_MAX_BYTES = env_int("METRICS_INGEST_MAX_BYTES", 1_048_576, minimum=1024)
METRICS_MAX_SAMPLE_AGE_SECONDS = env_int("METRICS_MAX_SAMPLE_AGE_SECONDS", 3600, minimum=60)
METRICS_MAX_SAMPLE_FUTURE_SECONDS = env_int("METRICS_MAX_SAMPLE_FUTURE_SECONDS", 300, minimum=0)
METRICS_SERIES_LIMIT = env_int("METRICS_SERIES_LIMIT", 1000, minimum=1)
# Each pushing service's share of a metric's label sets, so one token cannot fill them all.
METRICS_MAX_SERIES_PER_SERVICE = env_int("METRICS_MAX_SERIES_PER_SERVICE", 200, minimum=1)
METRICS_LABEL_VALUE_MAX_LENGTH = env_int("METRICS_LABEL_VALUE_MAX_LENGTH", 128, minimum=1)

# --- storage and retention -----------------------------------------------------------------------
METRICS_AGGREGATION_INTERVAL_MINUTES = env_int(
    "METRICS_AGGREGATION_INTERVAL_MINUTES", 5, minimum=1, maximum=60
)
METRICS_BUCKET_RETENTION_HOURS = env_int("METRICS_BUCKET_RETENTION_HOURS", 48, minimum=2)
# 10-second buckets, for rule windows that slide with the evaluation instant (issue #19): kept this
# long (minutes); windows reaching further back read the minute buckets. At least an hour and a bit.
METRICS_FINE_RETENTION_MINUTES = env_int("METRICS_FINE_RETENTION_MINUTES", 65, minimum=15)
METRICS_ROLLUP_5M_RETENTION_DAYS = env_int("METRICS_ROLLUP_5M_RETENTION_DAYS", 35, minimum=1)
METRICS_ROLLUP_1H_RETENTION_DAYS = env_int("METRICS_ROLLUP_1H_RETENTION_DAYS", 400, minimum=1)
METRICS_SERIES_IDLE_DAYS = env_int("METRICS_SERIES_IDLE_DAYS", 35, minimum=1)
METRICS_HOST_SAMPLING = env_bool("METRICS_HOST_SAMPLING", True)

# --- exposition ----------------------------------------------------------------------------------
METRICS_CACHE_SECONDS = env_float("METRICS_CACHE_SECONDS", 5.0, minimum=0.0, maximum=60.0)

# --- InfluxDB export (on when INFLUXDB_URL is set) -----------------------------------------------
INFLUXDB_URL = env_url("INFLUXDB_URL")
INFLUXDB_TOKEN = env_secret("INFLUXDB_TOKEN")
INFLUXDB_ORG = env_str("INFLUXDB_ORG")
INFLUXDB_BUCKET = env_str("INFLUXDB_BUCKET")
INFLUXDB_BATCH_SIZE = env_int("INFLUXDB_BATCH_SIZE", 5000, minimum=1)
INFLUXDB_TIMEOUT = env_float("INFLUXDB_TIMEOUT", 10.0, minimum=0.1)
INFLUXDB_MAX_BATCHES = env_int("INFLUXDB_MAX_BATCHES", 20, minimum=1)

# --- metrics backend and remote write (issue #20) -------------------------------------------------
# embedded (default): the buckets in this database (one platform, one machine). prometheus: any
# server speaking the Prometheus HTTP query API (Prometheus, VictoriaMetrics, Mimir, Thanos) at
# METRICS_BACKEND_URL: rules, queries, previews, backtests and business figures read through it,
# and each accepted ingest batch is forwarded by remote write when METRICS_REMOTE_WRITE_URL is set
# (leave it unset when the backend scrapes the services).
METRICS_BACKEND = env_str("METRICS_BACKEND", "embedded").strip().lower()
if METRICS_BACKEND not in ("embedded", "prometheus"):
    raise ImproperlyConfigured(
        f"METRICS_BACKEND={METRICS_BACKEND!r}: expected embedded or prometheus"
    )
METRICS_BACKEND_URL = env_url("METRICS_BACKEND_URL")
if METRICS_BACKEND == "prometheus" and not METRICS_BACKEND_URL:
    raise ImproperlyConfigured("METRICS_BACKEND=prometheus needs METRICS_BACKEND_URL")
# Either a bearer token, or a user name and password (basic auth); never both.
METRICS_BACKEND_TOKEN = env_secret("METRICS_BACKEND_TOKEN")
METRICS_BACKEND_USERNAME = env_str("METRICS_BACKEND_USERNAME")
METRICS_BACKEND_PASSWORD = env_secret("METRICS_BACKEND_PASSWORD")
if METRICS_BACKEND_TOKEN and METRICS_BACKEND_USERNAME:
    raise ImproperlyConfigured(
        "METRICS_BACKEND_TOKEN and METRICS_BACKEND_USERNAME: set a bearer token or basic auth, "
        "not both"
    )
if METRICS_BACKEND_PASSWORD and not METRICS_BACKEND_USERNAME:
    raise ImproperlyConfigured("METRICS_BACKEND_PASSWORD is set without METRICS_BACKEND_USERNAME")
METRICS_BACKEND_CONNECT_TIMEOUT = env_float(
    "METRICS_BACKEND_CONNECT_TIMEOUT", 3.0, minimum=0.1, maximum=60.0
)
# Per query, read by the server too (the ``timeout`` parameter), so it stops working on it.
METRICS_BACKEND_TIMEOUT = env_float("METRICS_BACKEND_TIMEOUT", 10.0, minimum=0.1, maximum=300.0)
# Queries of one cycle in flight at once.
METRICS_BACKEND_CONCURRENCY = env_int("METRICS_BACKEND_CONCURRENCY", 4, minimum=1, maximum=32)
METRICS_BACKEND_VERIFY_TLS = env_bool("METRICS_BACKEND_VERIFY_TLS", True)
METRICS_REMOTE_WRITE_URL = env_url("METRICS_REMOTE_WRITE_URL")
METRICS_REMOTE_WRITE_TOKEN = env_secret("METRICS_REMOTE_WRITE_TOKEN")
METRICS_REMOTE_WRITE_USERNAME = env_str("METRICS_REMOTE_WRITE_USERNAME")
METRICS_REMOTE_WRITE_PASSWORD = env_secret("METRICS_REMOTE_WRITE_PASSWORD")
METRICS_REMOTE_WRITE_TIMEOUT = env_float(
    "METRICS_REMOTE_WRITE_TIMEOUT", 10.0, minimum=0.1, maximum=60.0
)
# The bounded queue: batches waiting while the receiver is down; the oldest are dropped beyond it.
METRICS_REMOTE_WRITE_QUEUE_BATCHES = env_int("METRICS_REMOTE_WRITE_QUEUE_BATCHES", 10000, minimum=1)
