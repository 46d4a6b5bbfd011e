"""SSRF protection for outgoing calls to addresses that come from channel configuration.

A URL is checked where it matters, when the socket is opened: the host name is resolved, every
address it resolves to is checked, and the connection goes to one of the checked addresses. A check
before the request alone would be defeated by DNS rebinding (the name resolves to a public address
for the check and to 127.0.0.1 for the connection) and by redirects, which open new connections
that pass through the same guard.

Refused: loopback, private (RFC 1918, unique local), link-local (which holds the cloud metadata
service at 169.254.169.254), shared (100.64.0.0/10), unspecified, multicast and reserved addresses,
and IPv4 addresses mapped or embedded in IPv6. ``WEBHOOK_ALLOW_PRIVATE=true`` turns the guard off;
``WEBHOOK_ALLOWED_NETWORKS`` lets selected networks through (an internal receiver, say).
"""

from __future__ import annotations

import http.client
import ipaddress
import os
import socket
import urllib.request
from collections.abc import Sequence
from typing import Any

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Metadata services that are not covered by the link-local range.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("100.100.100.200", "fd00:ec2::254", "192.0.0.192")
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


def refusal_reason(address: IPAddress) -> str | None:
    """Why ``address`` may not be contacted, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            return refusal_reason(embedded)
    if _explicitly_allowed(address):
        return None
    if address in METADATA_ADDRESSES or str(address) == "169.254.169.254":
        return "a cloud metadata address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_unspecified or address.is_multicast or address.is_reserved:
        return "not a unicast address"
    if address.is_private or not address.is_global:
        return "a private address"
    return None


def _explicitly_allowed(address: IPAddress) -> bool:
    networks: Sequence[Any] = getattr(settings, "WEBHOOK_ALLOWED_NETWORKS", ())
    return any(address.version == net.version and address in net for net in networks)


def guard_enabled() -> bool:
    return not getattr(settings, "WEBHOOK_ALLOW_PRIVATE", False)


def literal_address_refusal(host: str) -> str | None:
    """For config validation: why a host written as an IP literal is refused (names pass here)."""
    if not guard_enabled():
        return None
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    return refusal_reason(address)


def checked_addresses(host: str, port: int) -> list[tuple[Any, ...]]:
    """Resolve ``host`` and return its addrinfo entries, refusing if ANY address is forbidden.

    Refusing on any (not only on the one we would pick) closes the trick of a name with one
    public and one private address, where the client might fall back to the private one.
    """
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    if not guard_enabled():
        return infos
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        reason = refusal_reason(address)
        if reason is not None:
            raise BlockedAddress(host, str(address), reason)
    return infos


def guarded_create_connection(
    address: tuple[str, int],
    timeout: Any = socket._GLOBAL_DEFAULT_TIMEOUT,  # type: ignore[attr-defined]
    source_address: tuple[str, int] | None = None,
    socket_options: Sequence[tuple[int, int, Any]] | None = None,
    **_: Any,
) -> socket.socket:
    """``socket.create_connection`` that only connects to addresses the guard has checked."""
    host, port = address
    last_error: OSError | None = None
    for family, kind, proto, _name, sockaddr in checked_addresses(host, port):
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


# --- requests (webhooks) -----------------------------------------------------------------------


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
            from urllib3.exceptions import NameResolutionError

            raise NameResolutionError(host, self, exc) from exc  # type: ignore[arg-type]
        except TimeoutError as exc:
            from urllib3.exceptions import ConnectTimeoutError

            raise ConnectTimeoutError(self, f"connection to {host} timed out") from exc
        except OSError as exc:
            from urllib3.exceptions import NewConnectionError

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


# --- urllib (slack_sdk) ------------------------------------------------------------------------


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
