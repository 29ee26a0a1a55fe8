"""One rule for addresses that only this machine can reach: a Dataflow worker given one reaches itself or nothing.

Local-only (`is_local_only`): `file:` URLs; the host names `localhost`, `*.localhost` (RFC 6761),
`localhost.localdomain`, `ip6-localhost` and `ip6-loopback` (Debian's /etc/hosts aliases); any loopback address
(all of 127.0.0.0/8, `::1`, IPv4-mapped `::ffff:127.x.y.z`), written in any form the C resolver accepts
(`127.1`, `0x7f.1`, `2130706433`); and the unspecified addresses `0.0.0.0` and `::`, which connect to this
machine. Written with or without brackets and a port (`http://[::1]:8080`).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit

_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
#: What `inet_aton` may read as an IPv4 address in a shorthand form (digits, dots, hex).
_IPV4_SHORTHAND = re.compile(r"(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}")


def is_local_only(url: str) -> bool:
    """Whether `url` names this machine (or its files), and so nothing another machine can reach."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:  # an unclosed [ in the address: no address at all
        return False
    if parts.scheme == "file":
        return True
    return host is not None and is_local_host(host)


def is_local_host(host: str) -> bool:
    """Whether the host name or address `host` (brackets allowed) is this machine."""
    host = host.strip().strip("[]").rstrip(".").lower()
    if host in _LOCAL_NAMES or host.endswith(".localhost"):
        return True
    address = _address(host)
    if address is None:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address `host` writes, in standard or shorthand IPv4 form; None for a host name."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])  # without an IPv6 zone (fe80::1%eth0)
    except ValueError:
        pass
    if _IPV4_SHORTHAND.fullmatch(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None
