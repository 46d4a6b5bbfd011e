"""Settings of the TicketToken monitoring service, read from the environment.

Every variable is documented in ``.env.example``. Helpers in ``monitoring_site.env`` raise
``ImproperlyConfigured`` on malformed values. Integrations stay off until their credentials exist.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import TypedDict
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from monitoring_site.env import (
    env_bool,
    env_cron,
    env_float,
    env_int,
    env_list,
    env_networks,
    env_secret,
    env_str,
    env_url,
)
from monitoring_site.envfile import load_env_file

# Before any variable is read: .env (or ENV_FILE) fills in what the environment leaves unset.
load_env_file()

# Blank means unset here too (.env.example lists it blank). prometheus_client, imported after
# the settings, takes any value it finds for a directory: a blank one made every process write
# its counter_<pid>.db files into the directory it was started from.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip():
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)

# Each app's own settings, from its conf.py (read after .env, like everything else here).
from alerts.conf import *  # noqa: E402,F403
from demo.conf import *  # noqa: E402,F403
from health.conf import *  # noqa: E402,F403
from metrics_app.conf import *  # noqa: E402,F403
from reports.conf import *  # noqa: E402,F403

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))
# The demo's inbox file defaults into VAR_DIR (demo/conf.py).
DEMO_INBOX_FILE = DEMO_INBOX_FILE or str(VAR_DIR / "demo-inbox.jsonl")  # noqa: F405

# --- core ----------------------------------------------------------------------------------------
DEBUG = env_bool("DEBUG", False)
# True under the test settings (monitoring_site/settings_test.py) and in processes tests start.
TESTING = env_bool("TESTING", False)


def _required_secret(name: str) -> str:
    value = env_secret(name)
    if value:
        return value
    if DEBUG or TESTING:
        return f"insecure-{name.lower()}-for-development-only-0123456789abcdefghijklmnopqrstuvwxyz"
    raise ImproperlyConfigured(
        f"{name} is not set. Set it (or {name}_FILE) to a long random value, or run "
        "bin/prepare (`make run` does) to generate one into .env for a single machine."
    )


SECRET_KEY = _required_secret("SECRET_KEY")
JWT_SECRET = _required_secret("JWT_SECRET")
if len(JWT_SECRET) < 32 and not (DEBUG or TESTING):
    # An HS256 key shorter than the hash output can be brute-forced offline from any token.
    raise ImproperlyConfigured("JWT_SECRET: must be at least 32 characters")
PORT = env_int("PORT", 3017, minimum=1, maximum=65535)
SITE_URL = env_url("SITE_URL", f"http://localhost:{PORT}").rstrip("/")
ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS",
    ["localhost", "127.0.0.1", "[::1]", "monitoring-service"] + (["testserver"] if TESTING else []),
)
TIME_ZONE = env_str("TIME_ZONE", "UTC")
try:
    ZoneInfo(TIME_ZONE)
except (ValueError, ZoneInfoNotFoundError):
    raise ImproperlyConfigured(
        f"TIME_ZONE={TIME_ZONE!r}: expected an IANA time zone name such as UTC or Europe/Paris"
    ) from None
USE_TZ = True
LANGUAGE_CODE = "en-us"
USE_I18N = False
# Full timestamps ("2026-11-30 17:04:05 UTC"), not English's "Nov. 30, 2026, 5 p.m.".
FORMAT_MODULE_PATH = ["monitoring_site.formats"]
TRUSTED_PROXIES = env_int("TRUSTED_PROXIES", 0, minimum=0, maximum=10)
HTTPS = env_bool("HTTPS", not DEBUG and not TESTING)

INSTALLED_APPS = [
    "monitoring_site.apps.MonitoringAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "django_prometheus",
    "simple_history",
    "monitoring_site",
    "metrics_app",
    "health",
    "alerts",
    "reports",
    "demo",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "monitoring_site.middleware.RejectNulInQueryMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    # Innermost: a view that meets the database down answers 503 with Retry-After.
    "monitoring_site.unavailable.DatabaseUnavailableMiddleware",
]
# The Retry-After (seconds) of a 503 answered because the database did not answer.
UNAVAILABLE_RETRY_AFTER_SECONDS = env_int("UNAVAILABLE_RETRY_AFTER_SECONDS", 10, minimum=1)

ROOT_URLCONF = "monitoring_site.urls"
WSGI_APPLICATION = "monitoring_site.wsgi.application"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "monitoring_site.context_processors.navigation",
            ],
        },
    },
]

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
# A fresh clone has no static/ until a page adds assets (git keeps no empty directories).
STATICFILES_DIRS = [path for path in [BASE_DIR / "static"] if path.is_dir()]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# Development and tests serve static files straight from the apps, without collectstatic.
WHITENOISE_AUTOREFRESH = DEBUG or TESTING
WHITENOISE_USE_FINDERS = DEBUG or TESTING
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "/admin/login/"

# --- database ------------------------------------------------------------------------------------
# SQLite (default) serves one machine: WAL lets the web server read while the worker writes,
# IMMEDIATE transactions take the write lock up front (no deadlock-prone lock upgrades) and the
# busy timeout waits for a writer instead of failing with "database is locked".
_SQLITE_OPTIONS = {
    "timeout": 30,
    "transaction_mode": "IMMEDIATE",
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}
_DATABASE_EXPECTED = "expected postgres://user:pass@host:port/name or sqlite:////absolute/path"


def _database_from_url(url: str) -> dj_database_url.DBConfig:
    if not url.startswith(("postgres://", "postgresql://", "sqlite://")):
        raise ImproperlyConfigured(f"DATABASE_URL: {_DATABASE_EXPECTED}")
    try:
        db = dj_database_url.parse(url, conn_max_age=600, conn_health_checks=True)
    except ValueError:
        # The library's message may quote the URL, password included: say what is expected.
        raise ImproperlyConfigured(f"DATABASE_URL: not a valid URL; {_DATABASE_EXPECTED}") from None
    if db["ENGINE"].endswith("sqlite3"):
        if db["NAME"] in ("", ":memory:"):
            raise ImproperlyConfigured(f"DATABASE_URL: no database file; {_DATABASE_EXPECTED}")
        return {
            "ENGINE": "django_prometheus.db.backends.sqlite3",
            "NAME": db["NAME"],
            "OPTIONS": dict(_SQLITE_OPTIONS),
            "TEST": {"NAME": ":memory:"},
        }
    if not db["NAME"]:
        raise ImproperlyConfigured(f"DATABASE_URL: no database name; {_DATABASE_EXPECTED}")
    db["ENGINE"] = "django_prometheus.db.backends.postgresql"
    db.setdefault("OPTIONS", {})["connect_timeout"] = env_int(
        "DATABASE_CONNECT_TIMEOUT", 5, minimum=1
    )
    db["TEST"] = {"NAME": env_str("TEST_DATABASE_NAME", "") or None}
    return db


DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": _database_from_url(DATABASE_URL)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django_prometheus.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "monitoring.sqlite3"),
            "OPTIONS": dict(_SQLITE_OPTIONS),
            # Named explicitly: pytest-xdist would otherwise derive per-worker file names from
            # the path (the instrumented engine hides that this is SQLite).
            "TEST": {"NAME": ":memory:"},
        }
    }

# --- cache, throttles, broker --------------------------------------------------------------------
# Parallel test workers share one Redis: each keeps its own keys and broker queue.
_TEST_WORKER = f"-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}" if TESTING else ""
REDIS_URL = env_url("REDIS_URL", schemes=("redis", "rediss", "unix"))
_REDIS_DB = urlparse(REDIS_URL).path.strip("/") if REDIS_URL.startswith("redis") else ""
if _REDIS_DB and not _REDIS_DB.isdigit():
    raise ImproperlyConfigured(f"REDIS_URL: expected redis://host:port/<number>, not /{_REDIS_DB}")
if REDIS_URL:
    CACHES = {
        "default": {
            # django-redis, failing open to process memory while Redis is down (cache.py).
            "BACKEND": "monitoring_site.cache.FailoverRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "monitoring") + _TEST_WORKER,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# While Redis is down each process leaves it alone this long after a failure before trying
# again, and reports the outage to health (the monitor's Redis service) this often.
REDIS_RETRY_SECONDS = env_float("REDIS_RETRY_SECONDS", 5.0, minimum=0.0)
REDIS_REPORT_SECONDS = env_float("REDIS_REPORT_SECONDS", 30.0, minimum=1.0)


class _QCluster(TypedDict, total=False):
    """The django-q2 options this project sets (``settings.Q_CLUSTER["timeout"]`` is an int)."""

    name: str
    workers: int
    timeout: int
    retry: int
    max_attempts: int
    catch_up: bool
    save_limit: int
    ack_failures: bool
    poll: float
    label: str
    redis: str
    orm: str


Q_CLUSTER: _QCluster = {
    "name": env_str("WORKER_CLUSTER_NAME", "monitoring") + _TEST_WORKER,
    "workers": env_int("Q_WORKERS", 2, minimum=1, maximum=64),
    "timeout": env_int("Q_TIMEOUT", 240, minimum=10),
    "retry": env_int("Q_TIMEOUT", 240, minimum=10) + 60,
    "max_attempts": 1,
    "catch_up": False,
    "save_limit": 500,
    "ack_failures": True,
    "poll": 0.5,
    "label": "Jobs",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- API -----------------------------------------------------------------------------------------


def _throttle_rate(name: str, default: str) -> str:
    """``<count>/<s|min|hour|day>``, checked now: DRF would only fail on the first request."""
    rate = env_str(name, default)
    count, _, period = rate.partition("/")
    if not (count.isdigit() and period[:1] in {"s", "m", "h", "d"}):
        raise ImproperlyConfigured(
            f"{name}={rate!r}: expected <count>/<s|min|hour|day>, e.g. 60/min"
        )
    return rate


REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "monitoring_site.api.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["monitoring_site.api.permissions.IsViewer"],
    "DEFAULT_PAGINATION_CLASS": "monitoring_site.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "monitoring_site.api.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "monitoring_site.api.throttling.AnonThrottle",
        "monitoring_site.api.throttling.UserThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": _throttle_rate("THROTTLE_ANON", "60/min"),
        "user": _throttle_rate("THROTTLE_USER", "600/min"),
        "login": _throttle_rate("THROTTLE_LOGIN", "10/min"),
        "ingest": _throttle_rate("THROTTLE_INGEST", "6000/min"),
        "intake": _throttle_rate("THROTTLE_INTAKE", "6000/min"),
        "health_check": _throttle_rate("THROTTLE_HEALTH_CHECK", "6/min"),
    },
    "NUM_PROXIES": TRUSTED_PROXIES,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
# JSON bodies nested at most 64 levels and malformed ones a 400, on every endpoint, and responses
# that can always be encoded (issue #10).
REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"] = [
    "monitoring_site.api.parsers.JSONParser",
    "rest_framework.parsers.FormParser",
    "rest_framework.parsers.MultiPartParser",
]
REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"] = [
    "monitoring_site.api.renderers.JSONRenderer",
    "rest_framework.renderers.BrowsableAPIRenderer",
]
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 15, minimum=1)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 7, minimum=1)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": JWT_SECRET,
    "AUTH_HEADER_TYPES": ("Bearer",),
}
# --- sign-in: lockout and token revocation (docs/security.md) ------------------------------------
# django-axes locks a (username, client address) pair after LOGIN_FAILURE_LIMIT failures, on every
# path that authenticates (admin, dashboard, API token). Its database handler keeps attempts in the
# database, so a lockout holds while Redis is down.
INSTALLED_APPS.append("axes")
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
    "monitoring_site.tokens.SignedOutSessionMiddleware",
)
MIDDLEWARE.append("axes.middleware.AxesMiddleware")
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 10, minimum=1, maximum=10)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "monitoring_site.net.client_ip"  # TRUSTED_PROXIES, like the throttles
AXES_LOCKOUT_CALLABLE = "monitoring_site.lockout.lockout_response"
AXES_ENABLE_ACCESS_FAILURE_LOG = True  # every failure, and whether it locked, is recorded
AXES_ENABLE_ADMIN = False  # monitoring_site.admin registers the pages, with "lift lockout"
LOGIN_LOG_RETENTION_DAYS = env_int("LOGIN_LOG_RETENTION_DAYS", 90, minimum=1)

SPECTACULAR_SETTINGS = {
    "TITLE": "TicketToken monitoring API",
    "DESCRIPTION": "Metrics ingestion, health, alerts and reports of the TicketToken platform.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Choice sets of the same field name in two apps: name them, or the schema warns.
    "ENUM_NAME_OVERRIDES": {"AlertStateEnum": "alerts.models.Alert.State"},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "monitoring_site.api.schema.add_error_responses",
    ],
}
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MAX_REQUEST_BYTES", 1_048_576, minimum=1024)

# --- HTTPS ---------------------------------------------------------------------------------------
# Probes, Prometheus and platform services call these paths inside the cluster over plain HTTP.
SECURE_REDIRECT_EXEMPT = [
    r"^status/?$",
    r"^health/?$",
    r"^metrics/?$",
    r"^api/v1/metrics/ingest/?$",
]
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env_int("HSTS_SECONDS", 31_536_000 if HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if TRUSTED_PROXIES > 0:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = env_bool("USE_X_FORWARDED_HOST", False)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [SITE_URL])
CSRF_FAILURE_VIEW = "monitoring_site.views.csrf_failure"
SESSION_COOKIE_HTTPONLY = True

# --- browser hardening (docs/security.md, "Browser hardening") -----------------------------------
# Every page (dashboard, admin, Swagger UI, acknowledge links) and every API answer carries a
# Content-Security-Policy that allows this origin only: no inline script or style, no eval, no
# external origin. data: images are for the icons inside Swagger UI's and the admin's CSS.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        # One inline style attribute exists in a page we serve: django-simple-history's history
        # list (style="border-top: 0"). Its hash lets exactly that value through, nothing else.
        "style-src-attr": [
            "'unsafe-hashes'",
            "'sha256-XMXSevYjgSjXgRafBFDvtjwX+yyWLrxfso9DcNZ9UXM='",
        ],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# Powerful browser features the service never uses are denied to every page (and to anything a
# page could embed); the clipboard stays writable for Swagger UI's copy buttons.
PERMISSIONS_POLICY: dict[str, list[str]] = {
    "accelerometer": [],
    "autoplay": [],
    "camera": [],
    "display-capture": [],
    "encrypted-media": [],
    "geolocation": [],
    "gyroscope": [],
    "hid": [],
    "idle-detection": [],
    "magnetometer": [],
    "microphone": [],
    "midi": [],
    "payment": [],
    "picture-in-picture": [],
    "publickey-credentials-get": [],
    "screen-wake-lock": [],
    "serial": [],
    "usb": [],
    "xr-spatial-tracking": [],
    "clipboard-write": ["self"],
}

# --- logging -------------------------------------------------------------------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(f"LOG_LEVEL={LOG_LEVEL!r}: expected DEBUG, INFO, WARNING or ERROR")
LOG_FORMAT = env_str("LOG_FORMAT", "text").lower()
if LOG_FORMAT not in {"text", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r}: expected text or json")
LOG_DIR = env_str("LOG_DIR")
_log_handlers = ["console"] + (["file"] if LOG_DIR else [])
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"},
        "json": {"()": "monitoring_site.logging.JsonFormatter"},
    },
    "handlers": {
        # stdout, beside gunicorn's access log, where platforms collect a process's output.
        "console": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": LOG_FORMAT,
        },
        **(
            {
                "file": {
                    "()": "monitoring_site.logging.DailyFileHandler",
                    "directory": LOG_DIR,
                    "formatter": LOG_FORMAT,
                }
            }
            if LOG_DIR
            else {}
        ),
    },
    "root": {"handlers": _log_handlers, "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "django.security.DisallowedHost": {"level": "ERROR"},
        "axes": {"level": "WARNING"},  # lockouts and failures; not its start-up banner
        # The Elasticsearch client logs every failed request; the shipper logs once per outage.
        "elastic_transport": {"level": "ERROR"},
        # Likewise the OTLP exporter (per batch); monitoring_site.tracing logs once per outage.
        "opentelemetry.exporter": {"level": "CRITICAL"},
    },
}

# --- retention (cleanup registry; each app registers what it prunes) -----------------------------
CLEANUP_BATCH_SIZE = env_int("CLEANUP_BATCH_SIZE", 1000, minimum=10)
JOB_RUN_RETENTION_DAYS = env_int("JOB_RUN_RETENTION_DAYS", 30, minimum=1)
Q_TASK_RETENTION_DAYS = env_int("Q_TASK_RETENTION_DAYS", 7, minimum=1)
CLEANUP_CRON = env_cron("CLEANUP_CRON", "0 2 * * *")

# --- self-monitoring (docs/operations.md) --------------------------------------------------------
# The dead-man's switch: an outside heartbeat check (Healthchecks.io, say) pinged after every
# successful evaluation cycle; it pages when the pings stop. The URL holds the check's secret.
DEADMANS_SWITCH_URL = env_url(
    "DEADMANS_SWITCH_URL", environ={"DEADMANS_SWITCH_URL": env_secret("DEADMANS_SWITCH_URL")}
)
DEADMANS_SWITCH_TIMEOUT = env_float("DEADMANS_SWITCH_TIMEOUT", 5.0, minimum=0.1, maximum=60)
# Self-alerts: the disk holding VAR_DIR fuller than this (percent); runbooks linked from each.
SELF_CHECK_DISK_PERCENT = env_float("SELF_CHECK_DISK_PERCENT", 90.0, minimum=1, maximum=100)
# Unset, self-alerts name the runbook's place in this repository (docs/operations.md#runbook-...).
RUNBOOK_URL = env_url("RUNBOOK_URL")

# --- metrics -------------------------------------------------------------------------------------
PROMETHEUS_IPS = env_networks("PROMETHEUS_IPS")
METRICS_TOKEN = env_secret("METRICS_TOKEN")
METRICS_PUBLIC = env_bool("METRICS_PUBLIC", False)
PROMETHEUS_METRIC_NAMESPACE = ""
PROMETHEUS_EXPORT_MIGRATIONS = False

# --- email (SMTP, or django-anymail when EMAIL_BACKEND names a provider) -------------------------
SMTP_HOST = env_str("SMTP_HOST")
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if SMTP_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = SMTP_HOST or "localhost"
EMAIL_PORT = env_int("SMTP_PORT", 587, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("SMTP_USER")
EMAIL_HOST_PASSWORD = env_secret("SMTP_PASS")
EMAIL_USE_TLS = env_bool("SMTP_TLS", EMAIL_PORT == 587)
EMAIL_USE_SSL = env_bool("SMTP_SSL", EMAIL_PORT == 465)
EMAIL_TIMEOUT = env_int("SMTP_TIMEOUT", 10, minimum=1)
ALERT_FROM_EMAIL = env_str("ALERT_FROM_EMAIL", "alerts@tickettoken.local")
ALERT_TO_EMAIL = env_list("ALERT_TO_EMAIL", [])
DEFAULT_FROM_EMAIL = ALERT_FROM_EMAIL
SERVER_EMAIL = ALERT_FROM_EMAIL
ANYMAIL = {
    key[len("ANYMAIL_") :]: value
    for key, value in os.environ.items()
    if key.startswith("ANYMAIL_") and key != "ANYMAIL_"
}

# --- logs and traces (optional) ------------------------------------------------------------------
# Log shipping (monitoring_site/shipping.py): structured logs, alert events and notification
# attempts, through a bounded queue and a background thread; off while ELASTICSEARCH_NODE is unset.
ELASTICSEARCH_NODE = env_url("ELASTICSEARCH_NODE")
ELASTICSEARCH_API_KEY = env_secret("ELASTICSEARCH_API_KEY")
ELASTICSEARCH_INDEX_PREFIX = env_str("ELASTICSEARCH_INDEX_PREFIX", "monitoring")
if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]{0,100}", ELASTICSEARCH_INDEX_PREFIX):
    raise ImproperlyConfigured(
        f"ELASTICSEARCH_INDEX_PREFIX={ELASTICSEARCH_INDEX_PREFIX!r}: expected lower-case letters, "
        "digits, '-', '_' or '.', starting with a letter or digit"
    )
ELASTICSEARCH_QUEUE_SIZE = env_int("ELASTICSEARCH_QUEUE_SIZE", 10_000, minimum=10)
ELASTICSEARCH_BATCH_SIZE = env_int("ELASTICSEARCH_BATCH_SIZE", 500, minimum=1, maximum=10_000)
ELASTICSEARCH_FLUSH_SECONDS = env_float("ELASTICSEARCH_FLUSH_SECONDS", 2.0, minimum=0.1)
ELASTICSEARCH_TIMEOUT = env_float("ELASTICSEARCH_TIMEOUT", 5.0, minimum=0.1, maximum=60)

# Tracing (monitoring_site/tracing.py): requests, queries, outgoing HTTP and jobs, exported over
# OTLP/HTTP to <endpoint>/v1/traces; off (nothing imported) while the endpoint is unset.
OTEL_EXPORTER_OTLP_ENDPOINT = env_url("OTEL_EXPORTER_OTLP_ENDPOINT")
OTEL_SERVICE_NAME = env_str("OTEL_SERVICE_NAME", "monitoring-service")
TRACING_TIMEOUT = env_float("TRACING_TIMEOUT", 5.0, minimum=0.1, maximum=60)
TRACING_QUEUE_SIZE = env_int("TRACING_QUEUE_SIZE", 2048, minimum=64)
