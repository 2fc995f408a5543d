"""uvicorn's HTTP/1.1 protocol with Nagle's algorithm off on every connection.

With ``--workers`` above one, uvicorn creates the listening socket itself as
``socket.socket(family)``, whose protocol number is 0; asyncio turns Nagle's algorithm off only on
sockets that say they are TCP, so every accepted connection kept it on. A response goes out as two
writes (head, then body), and the second waited for the client's delayed acknowledgement: 40 ms
per request on Linux. This protocol sets ``TCP_NODELAY`` itself, whatever created the socket.
"""

from __future__ import annotations

import asyncio
import socket

from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["HTTP_PROTOCOL", "NoDelayH11Protocol"]

HTTP_PROTOCOL = "xinyong.service.http_protocol:NoDelayH11Protocol"
"""What ``xinyong serve`` gives uvicorn as ``http``."""


class NoDelayH11Protocol(H11Protocol):
    """:class:`H11Protocol` that sends each write at once."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
