"""A free TCP port on loopback, for the processes a lesson starts (uvicorn workers, a broker)."""

from __future__ import annotations

import socket

__all__ = ["free_port"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on at ``host`` (IPv4) right now: the OS picks it by binding
    port 0. Another program may take it before ours binds; the callers start at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port
