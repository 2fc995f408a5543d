"""Start a real ``xinyong serve`` for a test and wait until it answers."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping

import httpx

__all__ = ["free_port", "ready", "start_serve", "wait_until"]


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_serve(env: Mapping[str, str], port: int, *args: str) -> subprocess.Popen[bytes]:
    """``xinyong serve --port PORT ARGS`` in the background, its output discarded."""
    return subprocess.Popen(
        [sys.executable, "-m", "xinyong", "serve", "--port", str(port), *args],
        env=dict(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def ready(port: int) -> bool:
    """Whether the service on ``port`` answers ``/ready``."""
    try:
        return httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def wait_until(
    server: subprocess.Popen[bytes], done: Callable[[], bool], what: str, seconds: float = 60
) -> None:
    """Wait for ``done()`` while ``server`` runs; fail naming ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not done():
        assert server.poll() is None, "serve exited"
        assert time.monotonic() < deadline, f"{what} within {seconds:.0f} s"
        time.sleep(0.2)
