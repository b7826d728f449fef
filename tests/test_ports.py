"""helpers._ports: a free loopback port."""

from __future__ import annotations

import socket

from helpers._ports import free_port


def test_the_port_is_free_and_bindable_on_loopback() -> None:
    port = free_port("127.0.0.1")
    assert 1024 <= port <= 65535
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", port))  # raises if someone else holds it
