"""uvicorn's HTTP/1.1 protocols with Nagle's algorithm off on every connection, and the one
``xinyong serve`` runs.

With ``--workers`` above one, uvicorn creates the listening socket itself as
``socket.socket(family)``, whose protocol number is 0; asyncio turns Nagle's algorithm off only on
sockets that say they are TCP, so every accepted connection kept it on. A response goes out as two
writes (head, then body), and the second waited for the client's delayed acknowledgement: 40 ms
per request on Linux. These protocols set ``TCP_NODELAY`` themselves, whatever created the
socket.

``httptools`` (the C parser of Node's http-parser) is the default: with the pure-Python ``h11``
parser, parsing and writing took about 30 % of a check's CPU (docs/benchmarks.md). ``h11`` stays
available (``xinyong serve --http h11``).
"""

from __future__ import annotations

import asyncio
import socket
from typing import Literal, TypedDict

from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = [
    "HTTP_PROTOCOLS",
    "HttpParser",
    "NoDelayH11Protocol",
    "NoDelayHttpToolsProtocol",
    "UvicornHttp",
    "uvicorn_options",
]

HttpParser = Literal["httptools", "h11"]


def _no_delay(transport: asyncio.Transport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class NoDelayH11Protocol(H11Protocol):
    """:class:`H11Protocol` that sends each write at once."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        _no_delay(transport)
        super().connection_made(transport)


class NoDelayHttpToolsProtocol(HttpToolsProtocol):
    """:class:`HttpToolsProtocol` that sends each write at once."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        _no_delay(transport)
        super().connection_made(transport)


HTTP_PROTOCOLS: dict[HttpParser, str] = {
    "httptools": "xinyong.service.http_protocol:NoDelayHttpToolsProtocol",
    "h11": "xinyong.service.http_protocol:NoDelayH11Protocol",
}
"""What uvicorn is given as ``http``, by parser."""


class UvicornHttp(TypedDict):
    """uvicorn's ``http`` and ``loop`` arguments."""

    http: str
    loop: str


def uvicorn_options(parser: HttpParser = "httptools") -> UvicornHttp:
    """uvicorn's ``http`` and ``loop`` as ``xinyong serve`` runs them: with httptools, uvloop's
    event loop (both C); with h11, asyncio's own."""
    loop = "uvloop" if parser == "httptools" else "asyncio"
    return {"http": HTTP_PROTOCOLS[parser], "loop": loop}
