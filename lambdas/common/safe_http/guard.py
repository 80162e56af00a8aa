"""The address guard: which IP addresses may be contacted, and resolving a host once.

Cloud metadata addresses (169.254.169.254, 169.254.170.2, fd00:ec2::254, ...) stay refused even
when allow_private_networks opens private ranges, in every IPv6 form that can carry an IPv4
address to a translator or tunnel: IPv4-mapped, IPv4-compatible, SIIT (::ffff:0:0:0/96), 6to4,
NAT64 (64:ff9b::/96 and the local-use 64:ff9b:1::/48 at every RFC 6052 position), Teredo
(server and de-obfuscated client) and ISATAP interface ids.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable

from lambdas.common.safe_http.errors import AddressRefusedError, FetchError

Resolver = Callable[[str, int], list[str]]
"""(host, port) -> the IP addresses it resolves to. Injected in tests to control DNS."""

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

# Always refused, even with allow_private_networks: instance credentials live there.
_METADATA = (
    ipaddress.ip_address("169.254.169.254"),  # EC2/ECS IMDS, most clouds
    ipaddress.ip_address("169.254.170.2"),  # ECS task metadata / credentials
    ipaddress.ip_address("fd00:ec2::254"),  # EC2 IMDS over IPv6
    ipaddress.ip_address("169.254.170.23"),  # EKS Pod Identity agent
    ipaddress.ip_address("fd00:ec2::23"),  # EKS Pod Identity agent over IPv6
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud metadata (inside CGNAT space)
)

_IPV4_RULES: tuple[tuple[_V4, str], ...] = (
    (_V4("0.0.0.0/8"), "an unspecified"),
    (_V4("10.0.0.0/8"), "a private"),
    (_V4("100.64.0.0/10"), "a carrier-grade NAT"),
    (_V4("127.0.0.0/8"), "a loopback"),
    (_V4("169.254.0.0/16"), "a link-local"),
    (_V4("172.16.0.0/12"), "a private"),
    (_V4("192.0.0.0/24"), "a reserved"),
    (_V4("192.0.2.0/24"), "a reserved (documentation)"),
    (_V4("192.88.99.0/24"), "a reserved (6to4 relay)"),
    (_V4("192.168.0.0/16"), "a private"),
    (_V4("198.18.0.0/15"), "a reserved (benchmarking)"),
    (_V4("198.51.100.0/24"), "a reserved (documentation)"),
    (_V4("203.0.113.0/24"), "a reserved (documentation)"),
    (_V4("224.0.0.0/4"), "a multicast"),
    (_V4("240.0.0.0/4"), "a reserved"),
)

_IPV6_RULES: tuple[tuple[_V6, str], ...] = (
    (_V6("::/128"), "an unspecified"),
    (_V6("::1/128"), "a loopback"),
    (_V6("::ffff:0:0:0/96"), "a reserved (IPv4-translated)"),
    (_V6("64:ff9b:1::/48"), "a reserved (local NAT64)"),
    (_V6("100::/64"), "a reserved (discard)"),
    (_V6("2001::/32"), "a reserved (Teredo)"),
    (_V6("2001:db8::/32"), "a reserved (documentation)"),
    (_V6("fc00::/7"), "a unique-local"),
    (_V6("fe80::/10"), "a link-local"),
    (_V6("fec0::/10"), "a reserved (site-local)"),
    (_V6("ff00::/8"), "a multicast"),
)

_NAT64 = _V6("64:ff9b::/96")
_LOCAL_NAT64 = _V6("64:ff9b:1::/48")  # RFC 8215: operators embed with any RFC 6052 length >= 48
_SIIT = _V6("::ffff:0:0:0/96")  # RFC 2765 IPv4-translated
_TEREDO = _V6("2001::/32")
_ISATAP_IDS = (0x00005EFE, 0x02005EFE)  # interface id 0:5efe:a.b.c.d (or 200:5efe, global)
_IPV4_COMPATIBLE = _V6("::/96")
_GLOBAL_UNICAST_V6 = _V6("2000::/3")


def _embedded_ipv4(addr: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, str] | None:
    """The IPv4 address hidden in an IPv4-mapped, -compatible, 6to4 or NAT64 IPv6 address."""
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped, "IPv4-mapped"
    if addr.sixtofour is not None:
        return addr.sixtofour, "6to4"
    if addr in _NAT64:
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF), "NAT64"
    if addr in _IPV4_COMPATIBLE and int(addr) > 1:
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF), "IPv4-compatible"
    return None


def _rfc6052_ipv4(value: int, prefix_length: int) -> ipaddress.IPv4Address:
    """The IPv4 address at RFC 6052's position for a prefix length (bits 64..71 skipped)."""
    octets = value.to_bytes(16, "big")
    start = prefix_length // 8
    around_u = (octets[start:8] + octets[9:])[:4]
    return ipaddress.IPv4Address(octets[12:16] if prefix_length == 96 else around_u)


def _hidden_ipv4s(addr: ipaddress.IPv6Address) -> list[tuple[ipaddress.IPv4Address, str]]:
    """IPv4 addresses a translator or tunnel could reach through `addr`, checked for metadata.

    These forms are refused by default anyway (reserved ranges, or a tunnel to a host we
    cannot see); the check matters when allow_private_networks lets them through.
    """
    value = int(addr)
    hidden: list[tuple[ipaddress.IPv4Address, str]] = []
    if addr in _SIIT:
        hidden.append((ipaddress.IPv4Address(value & 0xFFFFFFFF), "an IPv4-translated (SIIT)"))
    if addr in _LOCAL_NAT64:
        hidden += [(_rfc6052_ipv4(value, n), "a local NAT64") for n in (48, 56, 64, 96)]
    if addr in _TEREDO and addr.teredo is not None:
        server, client = addr.teredo
        hidden += [(server, "a Teredo"), (client, "a Teredo")]
    if (value >> 32) & 0xFFFFFFFF in _ISATAP_IDS:
        hidden.append((ipaddress.IPv4Address(value & 0xFFFFFFFF), "an ISATAP"))
    return hidden


def _ipv4_problem(addr: ipaddress.IPv4Address) -> str | None:
    for network, kind in _IPV4_RULES:
        if addr in network:
            return kind
    return None if addr.is_global else "a reserved"


def address_problem(ip: str) -> str | None:
    """Why `ip` must not be contacted ("a private", "a loopback", ...), or None if it is public.

    Raises ValueError for a string that is not an IP address.
    """
    addr = ipaddress.ip_address(ip.split("%", 1)[0])  # drop an IPv6 zone id ("fe80::1%eth0")
    if addr in _METADATA:
        return "the cloud metadata"
    if isinstance(addr, ipaddress.IPv4Address):
        return _ipv4_problem(addr)
    for inner, form in _hidden_ipv4s(addr):
        if inner in _METADATA:
            return f"{form} form of the cloud metadata"
    embedded = _embedded_ipv4(addr)
    if embedded is not None:
        inner, form = embedded
        if inner in _METADATA:
            return f"an {form} form of the cloud metadata"
        inner_problem = _ipv4_problem(inner)
        return None if inner_problem is None else f"an {form} {inner_problem.split(' ', 1)[1]}"
    for network, kind in _IPV6_RULES:
        if addr in network:
            return kind
    return None if addr in _GLOBAL_UNICAST_V6 else "a reserved"


def check_address(ip: str, *, allow_private_networks: bool = False) -> None:
    """Raise AddressRefusedError unless `ip` may be contacted.

    allow_private_networks lets private, loopback, link-local, ... through (local runs, the
    demo, tests); cloud metadata addresses stay refused whatever the setting.
    """
    try:
        problem = address_problem(ip)
    except ValueError:
        raise AddressRefusedError(f"refused: {ip!r} is not an IP address") from None
    if problem is None:
        return
    if allow_private_networks and "metadata" not in problem:
        return
    raise AddressRefusedError(f"refused: {ip} is {problem} address")


def system_resolver(host: str, port: int) -> list[str]:
    """All addresses getaddrinfo gives for host:port, in its order, without duplicates."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: dict[str, None] = {}
    for info in infos:
        seen.setdefault(str(info[4][0]), None)
    return list(seen)


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def _resolve_checked(
    host: str, port: int, resolver: Resolver, allow_private_networks: bool
) -> list[str]:
    """Resolve once and check every address; any refused address refuses the host."""
    if _is_ip_literal(host):
        addresses = [host]
    else:
        try:
            addresses = resolver(host, port)
        except socket.gaierror as exc:
            transient = exc.errno in (socket.EAI_AGAIN, getattr(socket, "EAI_SYSTEM", -11))
            raise FetchError(f"DNS lookup failed for {host}", transient=transient) from None
        except OSError as exc:
            raise FetchError(f"DNS lookup failed for {host} ({exc})", transient=True) from None
        if not addresses:
            raise FetchError(f"DNS lookup failed for {host} (no addresses)")
    for address in addresses:
        check_address(address, allow_private_networks=allow_private_networks)
    return addresses
