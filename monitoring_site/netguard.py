"""SSRF protection for outgoing connections to addresses that come from configuration.

Two policies share one check. Webhooks (and Slack webhook URLs) reach only public addresses,
unless ``WEBHOOK_ALLOW_PRIVATE`` lets them into private networks and loopback. Health targets
always may reach private networks and loopback (the platform lives there, and a local simulation
runs on 127.0.0.1). Both always refuse link-local addresses (which hold the cloud metadata
service at 169.254.169.254), the other metadata addresses, and unspecified, multicast and
reserved addresses: nothing the service is configured to call legitimately lives there.

An address is checked where it matters, when the socket is opened: the host name is resolved,
every address it resolves to is checked, and the connection goes to one of the checked addresses.
A check before the request alone would be defeated by DNS rebinding (the name resolves to a
public address for the check and to 169.254.169.254 for the connection) and by redirects, which
open new connections that pass through the same guard. IPv4 addresses mapped or embedded in IPv6
(``::ffff:a.b.c.d``, 6to4, NAT64, Teredo) are judged by the IPv4 address they carry.
"""

from __future__ import annotations

import asyncio
import http.client
import ipaddress
import os
import socket
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
AddrInfo = tuple[Any, ...]

# Metadata services outside the link-local range (Alibaba, AWS over IPv6, Oracle, Azure's
# WireServer); 169.254.169.254 (AWS, GCP, Azure, OpenStack) is named for a clearer message.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",
        "169.254.170.2",
        "100.100.100.200",
        "fd00:ec2::254",
        "192.0.0.192",
        "168.63.129.16",
    )
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")


@dataclass(frozen=True)
class Policy:
    """Which addresses one kind of outgoing connection may reach."""

    name: str
    internal: bool  # private networks, shared address space and loopback are allowed
    allowed_networks: tuple[IPNetwork, ...] = field(default=())

    def refusal(self, address: IPAddress) -> str | None:
        """Why ``address`` may not be contacted under this policy, or None when it may."""
        return refusal_reason(address, self)


def webhook_policy() -> Policy:
    """Webhook and Slack webhook URLs: public addresses, private ones only when allowed."""
    return Policy(
        name="webhook",
        internal=bool(getattr(settings, "WEBHOOK_ALLOW_PRIVATE", False)),
        allowed_networks=tuple(getattr(settings, "WEBHOOK_ALLOWED_NETWORKS", ())),
    )


def health_policy() -> Policy:
    """Health targets: private networks and loopback, never link-local or metadata."""
    return Policy(
        name="health",
        internal=True,
        allowed_networks=tuple(getattr(settings, "HEALTH_ALLOWED_NETWORKS", ())),
    )


class BlockedAddress(Exception):
    """A connection to an address the guard refuses; never retried (the URL itself is wrong).

    Deliberately not an ``OSError``: HTTP clients wrap those into retryable connection errors.
    """

    def __init__(self, host: str, address: str, reason: str) -> None:
        super().__init__(f"refused to connect to {host} ({address}): {reason}")
        self.host = host
        self.address = address
        self.reason = reason


def refusal_reason(address: IPAddress, policy: Policy) -> str | None:
    """Why ``address`` may not be contacted under ``policy``, or None when it may."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return refusal_reason(embedded, policy)
    # Never reachable, whatever a policy allows: nothing the service calls lives there.
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if _listed(address, policy.allowed_networks):
        return None
    if address.is_link_local:
        return "a link-local address"
    if address.is_unspecified or address.is_multicast or _reserved(address):
        return "not a unicast address"
    if policy.internal:
        return None
    if address.is_loopback:
        return "a loopback address"
    if address.is_private or not address.is_global:
        return "a private address"
    return None


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.teredo is not None:
        return address.teredo[1]
    return None


def _reserved(address: IPAddress) -> bool:
    # Python counts 240.0.0.0/4 and ::/8 as reserved; loopback ::1 lives in ::/8 too.
    return address.is_reserved and not address.is_loopback


def _listed(address: IPAddress, networks: Sequence[IPNetwork]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def literal_address_refusal(host: str, policy: Policy) -> str | None:
    """For config validation: why a host written as an IP literal is refused (names pass here)."""
    try:
        address = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None
    return refusal_reason(address, policy)


def _check_infos(host: str, infos: list[AddrInfo], policy: Policy) -> list[AddrInfo]:
    """Refuse if ANY address is forbidden, not only the one we would pick: that closes the trick
    of a name with one public and one private address, where the client falls back to the
    private one."""
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        reason = refusal_reason(address, policy)
        if reason is not None:
            raise BlockedAddress(host, str(address), reason)
    return infos


def _literal_info(host: str, port: int) -> list[AddrInfo] | None:
    """The addrinfo of a host written as an address: no resolver round trip for it."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    if address.version == 4:
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (str(address), port))]
    sockaddr = (str(address), port, 0, 0)
    return [(socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr)]


def checked_addresses(host: str, port: int, policy: Policy) -> list[AddrInfo]:
    """Resolve ``host`` and return its addrinfo entries, refusing if any address is forbidden."""
    infos = _literal_info(host, port) or socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return _check_infos(host, infos, policy)


async def checked_addresses_async(host: str, port: int, policy: Policy) -> list[AddrInfo]:
    """:func:`checked_addresses` for asyncio code (a lookup runs in the loop's executor)."""
    infos = _literal_info(host, port)
    if infos is None:
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return _check_infos(host, infos, policy)


def guarded_create_connection(
    address: tuple[str, int],
    timeout: Any = socket._GLOBAL_DEFAULT_TIMEOUT,  # type: ignore[attr-defined]
    source_address: tuple[str, int] | None = None,
    socket_options: Sequence[tuple[int, int, Any]] | None = None,
    *,
    policy: Callable[[], Policy] = webhook_policy,
    **_: Any,
) -> socket.socket:
    """``socket.create_connection`` that only connects to addresses the guard has checked."""
    host, port = address
    last_error: OSError | None = None
    for family, kind, proto, _name, sockaddr in checked_addresses(host, port, policy()):
        sock = socket.socket(family, kind, proto)
        try:
            for option in socket_options or ():
                sock.setsockopt(*option)
            if timeout is not socket._GLOBAL_DEFAULT_TIMEOUT:  # type: ignore[attr-defined]
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            last_error = exc
            sock.close()
    raise last_error or OSError(f"{host} resolved to no address")


# --- requests (webhooks; the webhook policy) --------------------------------------------------


class _GuardedConnectionMixin:
    def _new_conn(self) -> socket.socket:
        host = self._dns_host  # type: ignore[attr-defined]
        try:
            return guarded_create_connection(
                (host, self.port),  # type: ignore[attr-defined]
                self.timeout,  # type: ignore[attr-defined]
                source_address=self.source_address,  # type: ignore[attr-defined]
                socket_options=self.socket_options,  # type: ignore[attr-defined]
            )
        except BlockedAddress:
            raise
        except socket.gaierror as exc:
            raise NameResolutionError(host, self, exc) from exc  # type: ignore[arg-type]
        except TimeoutError as exc:
            raise ConnectTimeoutError(self, f"connection to {host} timed out") from exc
        except OSError as exc:
            raise NewConnectionError(self, f"failed to connect: {exc}") from exc  # type: ignore[arg-type]


class _GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    pass


class _GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    pass


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    """A requests adapter whose every connection (redirects included) passes the guard."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _GuardedHTTPPool,
            "https": _GuardedHTTPSPool,
        }


def guarded_session(*, max_redirects: int = 3) -> requests.Session:
    """A session for URLs from channel configuration.

    Environment proxies are ignored: through a proxy the guard would only see the proxy's address.
    """
    session = requests.Session()
    session.trust_env = False
    # trust_env also drops the CA bundle variables; keep those, they are no way around the guard.
    session.verify = (
        os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    )
    session.max_redirects = max_redirects
    adapter = GuardedAdapter(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


# --- urllib (slack_sdk webhooks; the webhook policy) -------------------------------------------


class _GuardedHTTPClientConnection(http.client.HTTPConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = guarded_create_connection


class _GuardedHTTPClientSConnection(http.client.HTTPSConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = guarded_create_connection


class _GuardedHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_GuardedHTTPClientConnection, req)


class _GuardedHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_GuardedHTTPClientSConnection, req, context=self._context)  # type: ignore[attr-defined]


class _NoRedirectHandler(urllib.request.HTTPRedirectHandler):
    """A 3xx comes back as an HTTPError with its status instead of being followed."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def guarded_opener(ssl_context: Any = None) -> urllib.request.OpenerDirector:
    """A urllib opener that passes the guard, never follows redirects and ignores env proxies."""
    return urllib.request.build_opener(
        urllib.request.ProxyHandler({}),
        _GuardedHTTPHandler(),
        _GuardedHTTPSHandler(context=ssl_context),
        _NoRedirectHandler(),
    )


def plain_opener(ssl_context: Any = None) -> urllib.request.OpenerDirector:
    """A urllib opener for vendor URLs from settings (trusted): no guard, but no redirects."""
    return urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=ssl_context), _NoRedirectHandler()
    )
