"""Start-up from the environment in fresh processes: what a deployment sees, not test patches."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.monitoring_site.conftest import BASE_DIR, PYTHON, Run, production_env

PROBE = """
import json, django
django.setup()
from django.conf import settings as s
db = s.DATABASES["default"]
print(json.dumps({
    "DEBUG": s.DEBUG,
    "PORT": s.PORT,
    "SECURE_SSL_REDIRECT": s.SECURE_SSL_REDIRECT,
    "SECURE_HSTS_SECONDS": s.SECURE_HSTS_SECONDS,
    "SESSION_COOKIE_SECURE": s.SESSION_COOKIE_SECURE,
    "CSRF_COOKIE_SECURE": s.CSRF_COOKIE_SECURE,
    "SECURE_PROXY_SSL_HEADER": s.SECURE_PROXY_SSL_HEADER,
    "NUM_PROXIES": s.REST_FRAMEWORK["NUM_PROXIES"],
    "TRUSTED_PROXIES": s.TRUSTED_PROXIES,
    "ENGINE": db["ENGINE"],
    "DB_NAME": str(db["NAME"]),
    "DB_OPTIONS": {k: v for k, v in db.get("OPTIONS", {}).items()},
    "CONN_MAX_AGE": db.get("CONN_MAX_AGE", 0),
    "CONN_HEALTH_CHECKS": db.get("CONN_HEALTH_CHECKS", False),
    "CACHE": s.CACHES["default"]["BACKEND"],
    "Q_BROKER": "redis" if "redis" in s.Q_CLUSTER else s.Q_CLUSTER.get("orm"),
    "CATCH_UP": s.Q_CLUSTER["catch_up"],
    "ACCESS": s.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds(),
    "REFRESH": s.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"].total_seconds(),
}, default=str))
"""


def probe(run_django: Run, **env: str | None) -> dict[str, Any]:
    result = run_django(code=PROBE, **env)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def start_up_error(run_django: Run, **env: str | None) -> str:
    """The last line of a failed ``manage.py check``: the exception a deployment would see."""
    result = run_django("check", **env)
    assert result.returncode != 0, "start-up should have failed"
    return result.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("name", ["SECRET_KEY", "JWT_SECRET"])
def test_start_up_without_a_secret_stops_naming_the_variable(run_django: Run, name: str) -> None:
    error = start_up_error(run_django, **{name: None})
    assert error.startswith("django.core.exceptions.ImproperlyConfigured")
    assert f"{name} is not set" in error


def test_secrets_can_come_from_files(run_django: Run, tmp_path: Path) -> None:
    (tmp_path / "key").write_text("k" * 60)
    (tmp_path / "jwt").write_text("j" * 60)
    result = run_django(
        code="import django; django.setup(); from django.conf import settings as s;"
        "print(s.SECRET_KEY == 'k' * 60, s.SIMPLE_JWT['SIGNING_KEY'] == 'j' * 60)",
        SECRET_KEY=None,
        JWT_SECRET=None,
        SECRET_KEY_FILE=str(tmp_path / "key"),
        JWT_SECRET_FILE=str(tmp_path / "jwt"),
    )
    assert result.stdout.split() == ["True", "True"], result.stderr[-2000:]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("PORT", "abc", "PORT='abc': expected a whole number"),
        ("PORT", "70000", "PORT=70000: must be at most 65535"),
        ("DEBUG", "maybe", "DEBUG='maybe': expected true or false"),
        ("HTTPS", "sometimes", "HTTPS='sometimes': expected true or false"),
        ("TRUSTED_PROXIES", "-1", "TRUSTED_PROXIES=-1: must be at least 0"),
        ("DATABASE_URL", "mysql://db/monitoring", "DATABASE_URL: expected postgres://"),
        ("DATABASE_URL", "postgres://u:pw@db:notaport/x", "DATABASE_URL: not a valid URL"),
        ("DATABASE_URL", "postgres://u:pw@db/", "DATABASE_URL: no database name"),
        ("DATABASE_URL", "sqlite://", "DATABASE_URL: no database file"),
        ("REDIS_URL", "localhost:6379", "REDIS_URL: expected a URL with scheme redis"),
        ("REDIS_URL", "http://cache:6379/0", "REDIS_URL: expected a URL with scheme redis"),
        ("REDIS_URL", "redis://cache:port/0", "REDIS_URL: the port"),
        ("REDIS_URL", "redis://cache:6379/zero", "REDIS_URL: expected redis://host:port/<number>"),
        ("SITE_URL", "monitoring.example.com", "SITE_URL: expected a URL with scheme http"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL='LOUD'"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT='xml': expected text or json"),
        ("JWT_ACCESS_MINUTES", "0", "JWT_ACCESS_MINUTES=0: must be at least 1"),
        ("JWT_SECRET", "short", "JWT_SECRET: must be at least 32 characters"),
        ("TIME_ZONE", "Mars/Olympus_Mons", "TIME_ZONE='Mars/Olympus_Mons': expected an IANA"),
        ("THROTTLE_ANON", "fast", "THROTTLE_ANON='fast': expected <count>/<s|min|hour|day>"),
        ("THROTTLE_LOGIN", "10/fortnight", "THROTTLE_LOGIN='10/fortnight'"),
    ],
)
def test_a_malformed_value_stops_start_up_naming_the_variable(
    run_django: Run, name: str, value: str, expected: str
) -> None:
    error = start_up_error(run_django, **{name: value})
    assert error.startswith("django.core.exceptions.ImproperlyConfigured: ")
    assert expected in error


def test_a_bad_database_url_never_echoes_its_password(run_django: Run) -> None:
    result = run_django("check", DATABASE_URL="postgres://u:hunter2@db:notaport/x")
    assert result.returncode != 0
    assert "hunter2" not in result.stderr


def test_defaults_are_sqlite_with_wal_local_memory_cache_and_the_orm_broker(
    run_django: Run, tmp_path: Path
) -> None:
    values = probe(run_django)
    assert values["ENGINE"] == "django_prometheus.db.backends.sqlite3"
    assert values["DB_NAME"] == str(tmp_path / "monitoring.sqlite3")
    assert values["DB_OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in values["DB_OPTIONS"]["init_command"]
    assert values["DB_OPTIONS"]["timeout"] >= 5
    assert values["CACHE"] == "django.core.cache.backends.locmem.LocMemCache"
    assert values["Q_BROKER"] == "default"
    assert values["CATCH_UP"] is False
    assert values["DEBUG"] is False
    assert values["PORT"] == 3017
    assert (values["ACCESS"], values["REFRESH"]) == (15 * 60, 7 * 24 * 3600)


def test_good_values_from_the_environment_are_used(run_django: Run) -> None:
    values = probe(
        run_django,
        PORT="8080",
        TRUSTED_PROXIES="2",
        JWT_ACCESS_MINUTES="5",
        JWT_REFRESH_DAYS="1",
        DEBUG="no",
        HTTPS="on",
        HSTS_SECONDS="600",
    )
    assert values["PORT"] == 8080
    assert values["TRUSTED_PROXIES"] == values["NUM_PROXIES"] == 2
    assert (values["ACCESS"], values["REFRESH"]) == (5 * 60, 24 * 3600)
    assert values["DEBUG"] is False
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_HSTS_SECONDS"] == 600


def test_database_and_redis_urls_switch_to_postgres_and_redis(run_django: Run) -> None:
    values = probe(
        run_django,
        DATABASE_URL="postgres://monitor:pw@db.internal:5432/monitoring",
        REDIS_URL="redis://cache.internal:6379/2",
    )
    assert values["ENGINE"] == "django_prometheus.db.backends.postgresql"
    assert values["DB_NAME"] == "monitoring"
    assert values["CONN_MAX_AGE"] > 0
    assert values["CONN_HEALTH_CHECKS"] is True
    assert values["CACHE"] == "monitoring_site.cache.FailoverRedisCache"  # django-redis, fails open
    assert values["Q_BROKER"] == "redis"


def test_a_sqlite_database_url_keeps_wal_and_immediate_transactions(
    run_django: Run, tmp_path: Path
) -> None:
    values = probe(run_django, DATABASE_URL=f"sqlite:///{tmp_path}/other.sqlite3")
    assert values["DB_NAME"] == f"{tmp_path}/other.sqlite3"
    assert values["DB_OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in values["DB_OPTIONS"]["init_command"]


def test_https_is_on_by_default_without_debug(run_django: Run) -> None:
    values = probe(run_django)
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_HSTS_SECONDS"] == 31_536_000
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True


@pytest.mark.parametrize("env", [{"HTTPS": "false"}, {"DEBUG": "true"}])
def test_https_false_or_debug_runs_on_plain_http(run_django: Run, env: dict[str, str]) -> None:
    values = probe(run_django, **env)
    assert values["SECURE_SSL_REDIRECT"] is False
    assert values["SECURE_HSTS_SECONDS"] == 0
    assert values["SESSION_COOKIE_SECURE"] is False


def test_the_forwarded_proto_header_is_trusted_only_behind_trusted_proxies(
    run_django: Run,
) -> None:
    direct = probe(run_django)
    assert direct["SECURE_PROXY_SSL_HEADER"] is None
    assert direct["NUM_PROXIES"] == 0
    proxied = probe(run_django, TRUSTED_PROXIES="1")
    assert proxied["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert proxied["NUM_PROXIES"] == 1


def test_check_deploy_passes_with_a_production_like_environment(run_django: Run) -> None:
    result = run_django("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_fails_when_https_is_off(run_django: Run) -> None:
    # The production check must not be a rubber stamp: plain HTTP is reported.
    result = run_django("check", "--deploy", "--fail-level", "WARNING", HTTPS="false")
    assert result.returncode != 0
    assert "security.W008" in result.stderr + result.stdout


def _example_env() -> dict[str, str]:
    values = {}
    for line in (BASE_DIR / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def test_the_example_environment_starts_and_passes_the_deploy_check(run_django: Run) -> None:
    """Copying .env.example (blank values included) plus two secrets gives a sound service."""
    example = {**_example_env(), "SECRET_KEY": "s" * 20 + "ecret-key-0123456789-abcdefghij-XYZ"}
    example["JWT_SECRET"] = "j" * 40
    example.pop("VAR_DIR", None)
    result = run_django("check", "--deploy", "--fail-level", "WARNING", **example)
    assert result.returncode == 0, result.stdout + result.stderr
    values = probe(run_django, **example)
    assert values["SECURE_SSL_REDIRECT"] is True  # HTTPS= is blank: the secure default holds
    assert values["Q_BROKER"] == "default"
    email = run_django(
        code="import django; django.setup(); from django.conf import settings as s;"
        "print(s.EMAIL_BACKEND, s.TIME_ZONE)",
        **example,
    )
    assert email.stdout.split() == ["django.core.mail.backends.console.EmailBackend", "UTC"]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("CLEANUP_CRON", "0 25 * * *", "CLEANUP_CRON='0 25 * * *': expected a five-field cron"),
        ("CLEANUP_CRON", "@daily", "CLEANUP_CRON='@daily': expected a five-field cron"),
        ("RULE_EVALUATION_INTERVAL_SECONDS", "4", "RULE_EVALUATION_INTERVAL_SECONDS=4: must be"),
        ("DEADMANS_SWITCH_URL", "hc-ping.com/abc", "DEADMANS_SWITCH_URL: expected a URL"),
        ("DEADMANS_SWITCH_TIMEOUT", "soon", "DEADMANS_SWITCH_TIMEOUT='soon': expected a number"),
        ("SELF_CHECK_DISK_PERCENT", "120", "SELF_CHECK_DISK_PERCENT=120.0: must be at most 100"),
        ("ELASTICSEARCH_NODE", "es:9200", "ELASTICSEARCH_NODE: expected a URL"),
        ("ELASTICSEARCH_INDEX_PREFIX", "Logs*", "ELASTICSEARCH_INDEX_PREFIX='Logs*': expected"),
        ("ELASTICSEARCH_QUEUE_SIZE", "5", "ELASTICSEARCH_QUEUE_SIZE=5: must be at least 10"),
    ],
)
def test_a_bad_schedule_or_self_monitoring_setting_stops_start_up_naming_it(
    run_django: Run, name: str, value: str, expected: str
) -> None:
    """Issue #14: invalid intervals or cron expressions fail at start-up, naming the variable."""
    assert expected in start_up_error(run_django, **{name: value})


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"METRICS_BACKEND": "influx"},
            "METRICS_BACKEND='influx': expected embedded or prometheus",
        ),
        ({"METRICS_BACKEND": "prometheus"}, "METRICS_BACKEND=prometheus needs METRICS_BACKEND_URL"),
        ({"METRICS_BACKEND_URL": "ftp://tsdb"}, "METRICS_BACKEND_URL: expected a URL"),
        (
            {"METRICS_BACKEND_TOKEN": "tok-s3cret", "METRICS_BACKEND_USERNAME": "u"},
            "set a bearer token or basic auth, not both",
        ),
        ({"METRICS_BACKEND_PASSWORD": "pw-s3cret"}, "METRICS_BACKEND_PASSWORD is set without"),
        ({"METRICS_BACKEND_TIMEOUT": "0"}, "METRICS_BACKEND_TIMEOUT"),
    ],
)
def test_a_bad_metrics_backend_setting_stops_start_up_naming_it(
    run_django: Run, env: dict[str, str], expected: str
) -> None:
    """Issue #20: the backend's settings are checked at start-up, and never echo a secret."""
    error = start_up_error(run_django, **env)
    assert expected in error
    assert "METRICS_BACKEND_PASSWORD" in expected or "p" not in env.get(
        "METRICS_BACKEND_PASSWORD", ""
    )


def test_a_blank_prometheus_multiproc_dir_writes_no_files_into_the_working_directory(
    tmp_path: Path,
) -> None:
    """.env.example leaves PROMETHEUS_MULTIPROC_DIR blank: blank is unset, not "here".

    prometheus_client takes any value for a directory: with an empty one, every process wrote
    its counter_<pid>.db files into the directory it was started from.
    """
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    env = production_env(tmp_path / "var", PROMETHEUS_MULTIPROC_DIR="")
    env["PYTHONPATH"] = str(BASE_DIR)
    code = (
        "import django; django.setup(); from monitoring_site.cache import FALLBACK_OPERATIONS;"
        "FALLBACK_OPERATIONS.inc(); print('ok')"
    )
    result = subprocess.run(
        [PYTHON, "-c", code], env=env, cwd=workdir, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(path.name for path in workdir.iterdir()) == []
