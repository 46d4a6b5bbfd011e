"""The environment readers: good values parse, bad ones stop start-up naming the variable."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from monitoring_site.env import (
    env_bool,
    env_duration,
    env_float,
    env_int,
    env_list,
    env_networks,
    env_renamed,
    env_secret,
    env_str,
    env_url,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        *[("true", True), ("1", True), ("YES", True), (" on ", True)],
        *[("false", False), ("0", False), ("No", False), ("off", False)],
    ],
)
def test_env_bool_reads_the_usual_spellings(raw: str, expected: bool) -> None:
    assert env_bool("DEBUG", not expected, environ={"DEBUG": raw}) is expected


def test_env_bool_falls_back_to_the_default_when_unset() -> None:
    assert env_bool("DEBUG", True, environ={}) is True
    assert env_bool("DEBUG", False, environ={}) is False


@pytest.mark.parametrize("raw", ["maybe", "2", "truee", "y e s"])
def test_env_bool_rejects_anything_else_naming_the_variable(raw: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=r"DEBUG=.*expected true or false"):
        env_bool("DEBUG", False, environ={"DEBUG": raw})


def test_env_int_parses_whole_numbers_and_defaults_when_empty() -> None:
    assert env_int("PORT", 3017, environ={"PORT": " 8080 "}) == 8080
    assert env_int("PORT", 3017, environ={"PORT": ""}) == 3017
    assert env_int("PORT", 3017, environ={}) == 3017


@pytest.mark.parametrize("raw", ["abc", "80.5", "1e3", "0x50"])
def test_env_int_rejects_non_integers_naming_the_variable(raw: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=r"PORT=.*expected a whole number"):
        env_int("PORT", 3017, environ={"PORT": raw})


def test_env_int_enforces_its_bounds() -> None:
    with pytest.raises(ImproperlyConfigured, match="PORT=0: must be at least 1"):
        env_int("PORT", 3017, minimum=1, maximum=65535, environ={"PORT": "0"})
    with pytest.raises(ImproperlyConfigured, match="PORT=70000: must be at most 65535"):
        env_int("PORT", 3017, minimum=1, maximum=65535, environ={"PORT": "70000"})


def test_env_float_parses_and_rejects_non_finite_numbers() -> None:
    assert env_float("HEALTH_ROUND_DEADLINE", 5.0, environ={"HEALTH_ROUND_DEADLINE": "2.5"}) == 2.5
    for raw in ("nan", "inf", "-inf"):
        with pytest.raises(ImproperlyConfigured, match=r"HEALTH_ROUND_DEADLINE=.*finite"):
            env_float("HEALTH_ROUND_DEADLINE", 5.0, environ={"HEALTH_ROUND_DEADLINE": raw})
    with pytest.raises(ImproperlyConfigured, match=r"HEALTH_ROUND_DEADLINE=.*expected a number"):
        env_float("HEALTH_ROUND_DEADLINE", 5.0, environ={"HEALTH_ROUND_DEADLINE": "soon"})
    with pytest.raises(ImproperlyConfigured, match=r"must be at least 0\.1"):
        env_float("HEALTH_ROUND_DEADLINE", 5.0, minimum=0.1, environ={"HEALTH_ROUND_DEADLINE": "0"})


def test_env_list_splits_on_commas_and_drops_blanks() -> None:
    assert env_list("ALLOWED_HOSTS", ["x"], environ={"ALLOWED_HOSTS": " a.com, ,b.com,"}) == [
        "a.com",
        "b.com",
    ]
    assert env_list("ALLOWED_HOSTS", ["x"], environ={}) == ["x"]
    assert env_list("ALERT_TO_EMAIL", ["x"], environ={"ALERT_TO_EMAIL": " , "}) == []


@pytest.mark.parametrize("blank", ["", "  "])
def test_a_blank_value_means_unset_so_the_default_applies(blank: str) -> None:
    """``HTTPS=`` copied from .env.example must not switch HTTPS off."""
    assert env_bool("HTTPS", True, environ={"HTTPS": blank}) is True
    assert env_int("PORT", 3017, environ={"PORT": blank}) == 3017
    assert env_float("DEADLINE", 5.0, environ={"DEADLINE": blank}) == 5.0
    assert env_str("TIME_ZONE", "UTC", environ={"TIME_ZONE": blank}) == "UTC"
    assert env_list("ALLOWED_HOSTS", ["a"], environ={"ALLOWED_HOSTS": blank}) == ["a"]
    assert env_url("SITE_URL", "http://x", environ={"SITE_URL": blank}) == "http://x"
    assert env_secret("JWT_SECRET", "d", environ={"JWT_SECRET": blank}) == "d"


def test_env_str_strips_and_defaults() -> None:
    assert env_str("TIME_ZONE", "UTC", environ={"TIME_ZONE": " Europe/Paris "}) == "Europe/Paris"
    assert env_str("TIME_ZONE", "UTC", environ={}) == "UTC"


@pytest.mark.parametrize(
    "url", ["https://hooks.example.com/x", "http://127.0.0.1:8080", "http://[::1]:9/"]
)
def test_env_url_accepts_http_urls(url: str) -> None:
    assert env_url("SITE_URL", environ={"SITE_URL": url}) == url


@pytest.mark.parametrize("url", ["ftp://example.com", "example.com", "http://", "https:///path"])
def test_env_url_rejects_bad_urls_naming_the_variable(url: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="SITE_URL"):
        env_url("SITE_URL", environ={"SITE_URL": url})


def test_env_url_accepts_redis_schemes_when_asked() -> None:
    schemes = ("redis", "rediss", "unix")
    for url in ("redis://127.0.0.1:6379/6", "rediss://cache:6380/0", "unix:///run/redis.sock"):
        assert env_url("REDIS_URL", schemes=schemes, environ={"REDIS_URL": url}) == url
    with pytest.raises(ImproperlyConfigured, match="REDIS_URL: expected a URL with scheme redis"):
        env_url("REDIS_URL", schemes=schemes, environ={"REDIS_URL": "http://cache:6379"})


def test_env_url_never_echoes_a_password_in_its_error() -> None:
    with pytest.raises(ImproperlyConfigured) as raised:
        env_url("REDIS_URL", schemes=("redis",), environ={"REDIS_URL": "http://u:s3cr3t@cache/0"})
    assert "s3cr3t" not in str(raised.value)
    assert "***" in str(raised.value)


def test_env_networks_reads_addresses_and_cidrs() -> None:
    networks = env_networks("PROMETHEUS_IPS", environ={"PROMETHEUS_IPS": "10.0.0.0/8, 127.0.0.1"})
    assert networks == [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("127.0.0.1/32")]
    with pytest.raises(ImproperlyConfigured, match="PROMETHEUS_IPS: 'prometheus' is not an IP"):
        env_networks("PROMETHEUS_IPS", environ={"PROMETHEUS_IPS": "prometheus"})


def test_env_secret_reads_the_variable_or_the_file_it_names(tmp_path: Path) -> None:
    secret_file = tmp_path / "jwt"
    secret_file.write_text("from-a-file\n")
    assert env_secret("JWT_SECRET", environ={"JWT_SECRET": "direct"}) == "direct"
    assert env_secret("JWT_SECRET", environ={"JWT_SECRET_FILE": str(secret_file)}) == "from-a-file"
    assert env_secret("JWT_SECRET", environ={}) == ""


def test_env_secret_with_an_unreadable_file_names_the_file_variable(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(ImproperlyConfigured, match=r"JWT_SECRET_FILE=.*cannot read"):
        env_secret("JWT_SECRET", environ={"JWT_SECRET_FILE": str(missing)})


def test_a_renamed_variable_reads_the_new_name_when_set() -> None:
    environ = {"NEW_DAYS": "5", "OLD": "9"}
    assert env_renamed("NEW_DAYS", old="OLD", environ=environ) == "NEW_DAYS"


def test_a_renamed_variable_still_reads_the_old_name_with_a_warning() -> None:
    with pytest.warns(FutureWarning, match="OLD is deprecated; set NEW_DAYS instead"):
        assert env_renamed("NEW_DAYS", old="OLD", environ={"OLD": "9"}) == "OLD"


def test_env_duration_reads_units_and_names_the_variable_when_wrong() -> None:
    assert env_duration("TTL", "24h", environ={}).total_seconds() == 86400
    assert env_duration("TTL", "24h", environ={"TTL": "90m"}).total_seconds() == 5400
    with pytest.raises(ImproperlyConfigured, match="TTL='soon'"):
        env_duration("TTL", "24h", environ={"TTL": "soon"})
