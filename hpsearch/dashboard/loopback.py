"""Whether an address to listen on can only be reached from this machine."""

from __future__ import annotations

import ipaddress
import socket

from hpsearch.errors import UserError


def is_loopback(host: str) -> bool:
    """True when every address ``host`` names is a loopback address."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)


def check_host(host: str, allow_remote: bool) -> None:
    if not allow_remote and not is_loopback(host):
        raise UserError(
            f"--host {host} would let other machines reach the dashboard: keep the default "
            "127.0.0.1 and use an SSH tunnel, or add --allow-remote if that is really wanted"
        )
