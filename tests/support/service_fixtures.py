"""A running decision service over a seeded ledger, and a webhook receiver, for API tests."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import Engine
from standardwebhooks import Webhook as StandardWebhook

from tests.support.overridden import add_overridden
from xinyong.application.keys import Role, create_key
from xinyong.application.settings import ServiceSettings
from xinyong.decisions.checks import Decision
from xinyong.decisions.decision_ids import new_decision_id
from xinyong.domain.identifiers import synthetic_resident_id
from xinyong.ledger.database import open_database
from xinyong.ledger.operations import log_rows
from xinyong.ledger.schema import relying_parties
from xinyong.schemes.load import load_scheme
from xinyong.server.app import create_app

SCHEME = Path(__file__).parents[1] / "data" / "example_scheme.toml"
PERSON = synthetic_resident_id(9, date(1985, 5, 5), 7)
OTHER = synthetic_resident_id(9, date(1986, 6, 6), 8)
START = date(2025, 6, 30)
WEBHOOK_SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" + "KzLl5fcnhJk="
"""The airline's webhook secret (Standard Webhooks form)."""
DEFAULT = {
    "record_id": "d1",
    "subject_id": PERSON,
    "subject_kind": "person",
    "code": "finance.contract_default",
    "occurred_at": "2025-03-01",
    "case_id": "loan-1",
    "attrs": {"amount": 20000, "channel": "branch"},
}
"""The bank's record that puts :data:`PERSON` on the example scheme's black list."""


def logged_decision(subject: str = "ext:a", applies: bool = False) -> Decision:
    """A fresh decision to write to the inquiry log (its own id, fixed other fields)."""
    return Decision(
        decision_id=new_decision_id(),
        relying_party="airline",
        subject_id=subject,
        measure="no-flights",
        applies=applies,
        scheme_id="court",
        version="v1",
        as_of=date(2026, 11, 26),
        known_at=7,
        made_at="2026-11-26T12:00:00.000000Z",
    )


@dataclass
class Clock:
    """A clock the tests move forward."""

    day: date = START

    def __call__(self) -> date:
        return self.day

    def advance(self, days: int) -> None:
        self.day += timedelta(days=days)


@dataclass
class Service:
    """The app, its database and a key per role."""

    app: FastAPI
    engine: Engine
    clock: Clock
    tokens: dict[str, str] = field(default_factory=dict)

    def headers(self, role: str) -> dict[str, str]:
        token = self.tokens.get(role)
        return {"Authorization": f"Bearer {token}"} if token else {}

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://xinyong.test"
        )


def make_service(
    url: str,
    webhook: str | None = None,
    *,
    ingest_process: bool = False,
) -> Service:
    """A service with the example scheme active, a relying party and a key per role.

    Submitted records are appended in the request's thread unless ``ingest_process`` (the
    service's default, tested on its own: a worker process per test would slow every test)."""
    engine = open_database(url)
    clock = Clock()
    with engine.begin() as conn:
        add_overridden(conn, load_scheme(SCHEME))
        tokens = {
            "operator": create_key(conn, Role.OPERATOR, label="test").token,
            "second-operator": create_key(conn, Role.OPERATOR, "Li Na", "appeals").token,
            "source": create_key(conn, Role.SOURCE, "bank").token,
            "relying": create_key(conn, Role.RELYING, "airline").token,
            "subject": create_key(conn, Role.SUBJECT, PERSON).token,
            "other-subject": create_key(conn, Role.SUBJECT, OTHER).token,
        }
        conn.exec_driver_sql(
            "INSERT INTO relying_parties (name, measures, purpose, webhook_url, created_at, "
            "webhook_secret) VALUES ('airline', '[\"restrict-flights\"]', 'ticket sales', "
            f"{'NULL' if webhook is None else repr(webhook)}, '2025-01-01T00:00:00Z', "
            f"'{WEBHOOK_SECRET}')"
        )
        log_rows(conn, relying_parties, relying_parties.c.name == "airline")  # a known secret
    app = create_app(
        engine,
        settings=ServiceSettings(
            today=clock,
            rate_per_second=1000,
            burst=1000,
            ingest_process=ingest_process,
        ),
    )
    return Service(app, engine, clock, tokens)


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", 0))
        body = self.rfile.read(length)
        time.sleep(self.server.delay)  # type: ignore[attr-defined]
        self.server.received.append(json.loads(body))  # type: ignore[attr-defined]
        self.server.raw.append((self.path, body, dict(self.headers.items())))  # type: ignore[attr-defined]
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@dataclass
class Webhook:
    url: str
    received: list[dict[str, Any]]
    raw: list[tuple[str, bytes, dict[str, str]]]
    """Each delivery as sent: path, body, headers."""

    def verified(self, secret: str) -> list[Any]:
        """Every delivery's payload, after Standard Webhooks' own library verified its
        signature with ``secret`` (raises for one that does not verify)."""
        return [StandardWebhook(secret).verify(body, headers) for _, body, headers in self.raw]


def webhook_server(delay: float = 0.0) -> Iterator[Webhook]:
    """A real HTTP server on localhost that records what it receives, ``delay`` seconds after
    each request's body has arrived."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.delay = delay  # type: ignore[attr-defined]
    server.received = []  # type: ignore[attr-defined]
    server.raw = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Webhook(
            f"http://127.0.0.1:{server.server_address[1]}/hook",
            server.received,  # type: ignore[attr-defined]
            server.raw,  # type: ignore[attr-defined]
        )
    finally:
        server.shutdown()
        server.server_close()
