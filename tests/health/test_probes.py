"""Each probe kind against real servers on 127.0.0.1, PostgreSQL and Redis."""

from __future__ import annotations

import time

import pytest

from health.probes import PROBES, ProbeResult, ProbeTarget
from health.probes.base import redact
from health.rounds import run_probes
from tests.health.conftest import POSTGRES_URL, REDIS_URL
from tests.health.servers import PlatformServer, free_port


def probe(
    kind: str,
    target: str,
    *,
    timeout: float = 2.0,
    deadline: float = 3.0,
    health_path: str = "",
    expected_status: int = 200,
) -> ProbeResult:
    one = ProbeTarget(
        service_id=1,
        slug="svc",
        kind=kind,
        target=target,
        health_path=health_path,
        timeout=timeout,
        expected_status=expected_status,
    )
    return run_probes([one], deadline=deadline, max_body_bytes=65_536)[1]


def test_a_healthy_http_service_is_up_with_its_status_code_and_latency(
    platform: PlatformServer,
) -> None:
    result = probe("http", platform.url("/ok", "ok"))
    assert (result.outcome, result.status_code, result.error) == ("up", 200, "")
    assert result.latency_ms is not None
    assert 0 < result.latency_ms < 1000


def test_the_health_path_is_appended_to_the_target(platform: PlatformServer) -> None:
    platform.url("/svc/health", "ok")
    result = probe("http", f"{platform.base}/svc/", health_path="/health")
    assert result.outcome == "up"
    assert ("GET", "/svc/health", b"") in platform.requests


def test_a_plain_text_ok_body_counts_as_up(platform: PlatformServer) -> None:
    assert probe("http", platform.url("/plain", "plain")).outcome == "up"


def test_a_json_status_of_degraded_makes_the_service_degraded(platform: PlatformServer) -> None:
    result = probe("http", platform.url("/degraded", "degraded"))
    assert (result.outcome, result.error) == ("degraded", "service reports status 'degraded'")


def test_a_json_status_of_unhealthy_with_200_is_down(platform: PlatformServer) -> None:
    result = probe("http", platform.url("/unhealthy", "unhealthy_json"))
    assert (result.outcome, result.error) == ("down", "service reports status 'unhealthy'")


def test_an_unexpected_status_code_is_down_and_says_which(platform: PlatformServer) -> None:
    result = probe("http", platform.url("/fail", "fail"))
    assert (result.outcome, result.status_code) == ("down", 500)
    assert result.error == "HTTP 500 (expected 200)"


def test_the_expected_status_can_be_something_else_than_200(platform: PlatformServer) -> None:
    result = probe("http", platform.url("/nothing", "missing"), expected_status=404)
    assert result.outcome == "up"


def test_a_body_that_claims_json_but_is_not_is_down(platform: PlatformServer) -> None:
    result = probe("http", platform.url("/notjson", "not_json"))
    assert (result.outcome, result.error) == ("down", "response is not valid JSON")


def test_a_binary_body_is_down_with_a_readable_reason(platform: PlatformServer) -> None:
    result = probe("http", platform.url("/binary", "binary"))
    assert (result.outcome, result.error) == ("down", "response body is not text")


def test_a_refused_connection_is_down(platform: PlatformServer) -> None:
    result = probe("http", f"http://127.0.0.1:{free_port()}/health")
    assert result.outcome == "down"
    assert result.error.startswith("connection failed:")


def test_a_service_that_hangs_times_out_at_its_own_timeout(platform: PlatformServer) -> None:
    started = time.perf_counter()
    result = probe("http", platform.url("/hang", "hang"), timeout=0.3, deadline=2.0)
    assert time.perf_counter() - started < 1.0
    assert (result.outcome, result.error) == ("down", "timed out after 0.3 s")


def test_a_service_that_drips_bytes_is_cut_off_at_the_round_deadline(
    platform: PlatformServer,
) -> None:
    # A byte every 0.4 s resets any per-read timeout; only the overall deadline stops it.
    started = time.perf_counter()
    result = probe("http", platform.url("/drip", "drip"), timeout=30, deadline=1.0)
    elapsed = time.perf_counter() - started
    # Cut at the deadline, not at the 30 s timeout; the overhead target is bench/health_round.py's,
    # so the margin here is one a loaded CI machine keeps.
    assert 1.0 <= elapsed < 2.0
    assert result.outcome == "down"
    assert result.error == "timed out: still running at the round deadline of 1 s"


def test_an_endless_body_is_down_without_reading_it_all(platform: PlatformServer) -> None:
    started = time.perf_counter()
    result = probe("http", platform.url("/huge", "huge"))
    assert time.perf_counter() - started < 1.5
    assert (result.outcome, result.error) == ("down", "response body is larger than 65536 bytes")


def test_a_declared_huge_body_is_refused_before_reading(platform: PlatformServer) -> None:
    result = probe("http", platform.url("/huge-declared", "huge_declared"))
    assert result.outcome == "down"
    assert result.error == "response body of 52428800 bytes is larger than 65536 bytes"


def test_a_content_length_in_superscript_digits_is_down_with_a_reason_not_a_crash(
    platform: PlatformServer,
) -> None:
    result = probe("http", platform.url("/odd-length", "odd_length"))
    assert result.outcome == "down"
    assert result.error


def test_a_redirect_loop_is_down_with_a_readable_reason(platform: PlatformServer) -> None:
    result = probe("http", platform.url("/loop", "redirect_loop"))
    assert (result.outcome, result.error) == ("down", "too many redirects (a redirect loop?)")


def test_garbage_instead_of_http_is_down(platform: PlatformServer) -> None:
    result = probe("http", platform.url("/garbage", "garbage"))
    assert result.outcome == "down"
    assert result.error.startswith("invalid HTTP response")


def test_a_tls_error_is_down_and_named_as_such(platform: PlatformServer) -> None:
    platform.url("/ok", "ok")
    result = probe("http", platform.base.replace("http://", "https://") + "/ok")
    assert result.outcome == "down"
    assert result.error.startswith("TLS error:")


def test_postgres_answers_select_1() -> None:
    result = probe("postgres", POSTGRES_URL)
    assert (result.outcome, result.error) == ("up", "")
    assert result.latency_ms is not None
    assert result.latency_ms > 0


def test_postgres_that_does_not_listen_is_down_without_its_password_in_the_error() -> None:
    result = probe("postgres", f"postgresql://watcher:s3cret@127.0.0.1:{free_port()}/db")
    assert result.outcome == "down"
    assert result.error.startswith("connection failed:")
    assert "s3cret" not in result.error


def test_redis_answers_ping() -> None:
    assert probe("redis", REDIS_URL).outcome == "up"


def test_redis_that_does_not_listen_is_down() -> None:
    result = probe("redis", f"redis://:pw@127.0.0.1:{free_port()}/0")
    assert result.outcome == "down"
    assert result.error.startswith("PING failed:")
    assert ":pw@" not in result.error


def test_tcp_is_up_when_the_port_accepts_and_down_when_it_refuses(
    platform: PlatformServer,
) -> None:
    port = platform.server_address[1]
    assert probe("tcp", f"127.0.0.1:{port}").outcome == "up"
    refused = probe("tcp", f"127.0.0.1:{free_port()}")
    assert refused.outcome == "down"
    assert refused.error.startswith("connection failed:")


def test_solana_rpc_is_up_when_get_health_is_ok_and_reports_the_slot(
    platform: PlatformServer,
) -> None:
    platform.solana.update(health="ok", slot=287_654_321)
    result = probe("solana_rpc", platform.url("/rpc", "solana"))
    assert (result.outcome, result.details) == ("up", {"slot": 287_654_321})
    methods = [body for method, path, body in platform.requests if path == "/rpc"]
    assert b'"getHealth"' in methods[-2] and b'"getSlot"' in methods[-1]


def test_a_solana_node_behind_the_cluster_is_degraded(platform: PlatformServer) -> None:
    platform.solana.update(health="behind")
    result = probe("solana_rpc", platform.url("/rpc", "solana"))
    assert result.outcome == "degraded"
    assert result.error == "getHealth: Node is behind by 42 slots"


def test_a_solana_node_answering_an_rpc_error_is_down(platform: PlatformServer) -> None:
    platform.solana.update(health="broken")
    result = probe("solana_rpc", platform.url("/rpc", "solana"))
    assert (result.outcome, result.error) == ("down", "getHealth: Internal error")


def test_a_solana_url_that_answers_garbage_is_down(platform: PlatformServer) -> None:
    result = probe("solana_rpc", platform.url("/rpc-garbage", "not_json"))
    assert (result.outcome, result.error) == ("down", "getHealth: response is not valid JSON")


@pytest.mark.parametrize(
    ("kind", "target", "message"),
    [
        ("http", "ftp://example.com", "expected an http(s) URL with scheme http or https"),
        ("http", "http://", "the URL has no host name"),
        ("postgres", "mysql://db/x", "expected a DSN with scheme postgres or postgresql"),
        ("redis", "http://cache", "expected a redis:// URL with scheme redis or rediss"),
        (
            "tcp",
            "db.internal",
            "expected host:port (or tcp://host:port) with a port from 1 to 65535",
        ),
        ("http", "http://host:99999/", "the port is not a number between 0 and 65535"),
    ],
)
def test_targets_are_validated_per_kind(kind: str, target: str, message: str) -> None:
    with pytest.raises(ValueError, match=r"^" + message.replace("(", r"\(").replace(")", r"\)")):
        PROBES[kind].validate_target(target)


def test_credentials_are_stripped_from_urls_and_dsns_in_errors() -> None:
    text = "failed for postgres://app:hunter2@db:5432/x and host=db password=hunter2 user=app"
    assert redact(text) == "failed for postgres://***@db:5432/x and host=db password=*** user=app"


def test_error_text_is_cut_to_a_sane_length() -> None:
    assert len(redact("x" * 5000)) == 500
