"""Which address to advertise: small helpers over the socket API."""

from __future__ import annotations

import functools
import ipaddress
import socket


def route_address(peer: str) -> str:
    """The local IP address the kernel would use to reach ``peer`` (no packet is sent)."""
    family = socket.AF_INET6 if ":" in peer else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((peer, 9))
            return str(probe.getsockname()[0])
    except OSError:
        return "127.0.0.1"


@functools.lru_cache(maxsize=4096)  # asked for every SIP message sent: a handful of peers
def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
