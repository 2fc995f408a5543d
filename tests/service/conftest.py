"""Fixtures of the service tests: the service over a seeded ledger on each engine, with the
airline's webhook a real HTTP server (a module may define its own ``service``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.service_fixtures import Service, Webhook, make_service, webhook_server


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    yield from webhook_server()


@pytest.fixture
def service(ledger_url: str, webhook: Webhook) -> Iterator[Service]:
    svc = make_service(ledger_url, webhook.url)
    yield svc
    svc.engine.dispose()
