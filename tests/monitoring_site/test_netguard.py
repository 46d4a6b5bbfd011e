"""The address guard's two policies: webhooks (public only) and health targets (internal too)."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest

from monitoring_site.netguard import (
    BlockedAddress,
    Policy,
    checked_addresses,
    health_policy,
    literal_address_refusal,
    refusal_reason,
    webhook_policy,
)

PUBLIC_ONLY = Policy(name="webhook", internal=False)
INTERNAL = Policy(name="health", internal=True)

# address, refusal for webhooks (public only), refusal for health targets (internal allowed)
TABLE = [
    ("127.0.0.1", "a loopback address", None),
    ("::1", "a loopback address", None),
    ("10.0.0.1", "a private address", None),
    ("172.16.5.4", "a private address", None),
    ("192.168.1.1", "a private address", None),
    ("fc00::1", "a private address", None),
    ("100.64.0.1", "a private address", None),
    ("169.254.169.254", "a cloud metadata address", "a cloud metadata address"),
    ("169.254.170.2", "a cloud metadata address", "a cloud metadata address"),
    ("fd00:ec2::254", "a cloud metadata address", "a cloud metadata address"),
    ("100.100.100.200", "a cloud metadata address", "a cloud metadata address"),
    ("168.63.129.16", "a cloud metadata address", "a cloud metadata address"),
    ("169.254.10.10", "a link-local address", "a link-local address"),
    ("fe80::1", "a link-local address", "a link-local address"),
    ("0.0.0.0", "not a unicast address", "not a unicast address"),
    ("::", "not a unicast address", "not a unicast address"),
    ("224.0.0.1", "not a unicast address", "not a unicast address"),
    ("ff02::1", "not a unicast address", "not a unicast address"),
    ("240.0.0.1", "not a unicast address", "not a unicast address"),
    ("255.255.255.255", "not a unicast address", "not a unicast address"),
    ("::ffff:127.0.0.1", "a loopback address", None),
    ("::ffff:10.0.0.1", "a private address", None),
    ("::ffff:169.254.169.254", "a cloud metadata address", "a cloud metadata address"),
    ("64:ff9b::a9fe:a9fe", "a cloud metadata address", "a cloud metadata address"),
    ("2002:a9fe:a9fe::1", "a cloud metadata address", "a cloud metadata address"),
    ("64:ff9b::5db8:d70e", None, None),
    ("93.184.215.14", None, None),
    ("2606:4700:4700::1111", None, None),
]


@pytest.mark.parametrize(("address", "webhook", "health"), TABLE)
def test_each_address_class_is_refused_or_allowed_by_each_policy(
    address: str, webhook: str | None, health: str | None
) -> None:
    parsed = ipaddress.ip_address(address)
    assert (refusal_reason(parsed, PUBLIC_ONLY), refusal_reason(parsed, INTERNAL)) == (
        webhook,
        health,
    )


def test_webhook_allow_private_opens_private_networks_but_never_metadata(settings: Any) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE = True
    policy = webhook_policy()
    assert policy.refusal(ipaddress.ip_address("10.0.0.1")) is None
    assert policy.refusal(ipaddress.ip_address("169.254.169.254")) == "a cloud metadata address"


def test_an_allowed_network_lets_only_its_addresses_through(settings: Any) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE = False
    settings.WEBHOOK_ALLOWED_NETWORKS = [ipaddress.ip_network("10.20.0.0/16")]
    policy = webhook_policy()
    assert policy.refusal(ipaddress.ip_address("10.20.3.4")) is None
    assert policy.refusal(ipaddress.ip_address("10.21.3.4")) == "a private address"


def test_a_health_allowed_network_opens_link_local_but_not_the_metadata_service(
    settings: Any,
) -> None:
    settings.HEALTH_ALLOWED_NETWORKS = [ipaddress.ip_network("169.254.0.0/16")]
    policy = health_policy()
    assert policy.refusal(ipaddress.ip_address("169.254.7.7")) is None
    assert policy.refusal(ipaddress.ip_address("169.254.169.254")) == "a cloud metadata address"


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("169.254.169.254", "a cloud metadata address"),
        ("[fd00:ec2::254]", "a cloud metadata address"),
        ("[fe80::1%eth0]", "a link-local address"),
        ("127.0.0.1", None),
        ("payment-service", None),  # a name: judged when it is resolved
    ],
)
def test_literal_addresses_are_judged_at_validation(host: str, reason: str | None) -> None:
    assert literal_address_refusal(host, INTERNAL) == reason


def test_a_name_is_refused_when_any_of_its_addresses_is_forbidden(monkeypatch: Any) -> None:
    def resolve(host: str, port: int, **_: Any) -> list[tuple[Any, ...]]:
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.8", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", port)),
        ]

    # The one seam mocked: a resolver answering with a metadata address needs a DNS server.
    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    with pytest.raises(BlockedAddress) as caught:
        checked_addresses("rebinding.example", 80, INTERNAL)
    assert str(caught.value) == (
        "refused to connect to rebinding.example (169.254.169.254): a cloud metadata address"
    )
