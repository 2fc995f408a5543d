"""Start a real ``xinyong serve`` for a test and wait until it answers, or serve an app over
real HTTP from a thread of the test's own process."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

import httpx
import uvicorn
from fastapi import FastAPI

__all__ = [
    "STOP_SECONDS",
    "free_port",
    "ready",
    "serve_app",
    "start_serve",
    "stop_serve",
    "wait_until",
]

STOP_SECONDS = 60.0
"""How long a service under test may take to stop after SIGTERM: idle it takes about a second,
but with the suite's other workers loading both cores its processes' imports and shutdowns have
taken over 15 s."""


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


def stop_serve(server: subprocess.Popen[bytes]) -> None:
    """Stop ``server`` as an operator would (SIGTERM) and wait for it; if it has not stopped
    within :data:`STOP_SECONDS`, kill it (its helpers follow it) and fail."""
    server.terminate()
    try:
        server.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(STOP_SECONDS)
        raise AssertionError(f"serve did not stop within {STOP_SECONDS:.0f} s of SIGTERM") from None


@contextmanager
def serve_app(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free port from a thread; yield its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120  # slow to start beside the other test worker
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
