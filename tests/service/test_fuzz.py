"""Fuzzing the API from its own OpenAPI document: no input makes the service fail (5xx).

Schemathesis generates requests for every operation from the schema (valid and invalid
parameters and bodies); each is sent with a key of a role the operation admits, so the fuzzing
reaches the handlers instead of stopping at 401/403. The stateful run follows the document's
links (a key created, then revoked; an objection filed, then decided or answered by its source;
a review or an appeal asked, then decided; a check made, then replayed), so that operations on
existing resources are reached too, on SQLite and PostgreSQL, each example on a service of its
own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from anyio import to_thread
from hypothesis import HealthCheck, given, settings

from tests.support.lifespan import Lifespan
from tests.support.postgres import reset_pg
from tests.support.service_fixtures import PERSON, START, Service, make_service
from xinyong.ingest.records import ingest_rows
from xinyong.service.auth import ROLE_KEY


@schemathesis.serializer("application/toml")
def _toml(ctx: schemathesis.SerializationContext, value: object) -> bytes:
    return str(value).encode()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    path: Path = tmp_path_factory.mktemp("fuzz") / "ledger.db"
    svc = make_service(f"sqlite:///{path}")
    yield svc
    svc.engine.dispose()


def _role_headers(service: Service, operation: schemathesis.APIOperation) -> dict[str, str]:
    declared = operation.definition.raw.get(ROLE_KEY, ["public"])
    role = next((r for r in declared if r != "public"), "public")
    return service.headers(role)


@pytest.fixture(scope="module")
def api(service: Service) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", service.app)


def test_no_server_errors(api: schemathesis.BaseSchema, service: Service) -> None:
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) > 15
    for operation in operations:
        _fuzz(operation, _role_headers(service, operation))


def _fuzz(operation: schemathesis.APIOperation, headers: dict[str, str]) -> None:
    @settings(
        max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    @given(case=operation.as_strategy())
    def call(case: schemathesis.Case) -> None:
        response = case.call(headers=headers)
        assert response.status_code < 500, (case.method, case.path, response.text[:300])

    call()


RECORD = {
    "record_id": "d1",
    "subject_id": PERSON,
    "subject_kind": "person",
    "code": "finance.contract_default",
    "occurred_at": str(START),
    "attrs": {"amount": 20000, "channel": "branch"},
}


class _Fresh:
    """An ASGI app that is a new service, from the same seed, for every example: Hypothesis
    replays choices and requires that the same choices meet the same answers (an objection
    filed in an earlier example would make the same request a refusal in a later one, and an
    empty bundle a "flaky strategy").

    Each service runs as served, inside its own lifespan (started on the event loop that
    serves the requests, at its first request); a service is replaced only after its lifespan
    has ended and its engine is disposed, so no connection or thread of one outlives it."""

    def __init__(self, url: str, tmp: Path) -> None:
        self.url, self.tmp, self.made = url, tmp, 0
        self.svc = self._make()
        self.running: Lifespan | None = None
        self.stale = False

    def _make(self) -> Service:
        self.made += 1
        if self.url.startswith("sqlite"):
            url = f"sqlite:///{self.tmp / f'ledger-{self.made}.db'}"
        else:
            reset_pg(self.url)
            url = self.url
        svc = make_service(url)
        catalog = svc.app.state.context.catalog
        report = ingest_rows(svc.engine, [RECORD], catalog, source="bank")
        assert report.accepted == 1  # something for the subject to object to
        return svc

    def renew(self) -> None:
        """Serve a new service from the next request on."""
        self.stale = True

    async def _close(self) -> None:
        if self.running is not None:
            await self.running.stop()
            self.running = None
        self.svc.engine.dispose()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":  # schemathesis's own: the services keep theirs
            assert (await receive())["type"] == "lifespan.startup"
            await send({"type": "lifespan.startup.complete"})
            assert (await receive())["type"] == "lifespan.shutdown"
            await self._close()
            await send({"type": "lifespan.shutdown.complete"})
            return
        if self.stale:
            await self._close()
            self.svc = await to_thread.run_sync(self._make)
            self.stale = False
        if self.running is None:
            self.running = await Lifespan.start(self.svc.app)
        await self.svc.app(scope, receive, send)


def test_no_server_errors_along_the_links(ledger_url: str, tmp_path: Path) -> None:
    fresh = _Fresh(ledger_url, tmp_path)
    schema = schemathesis.openapi.from_asgi("/openapi.json", fresh)
    # valid requests, so that resources get created and the links have something to follow
    schema.config.generation.update(modes=[schemathesis.GenerationMode.POSITIVE])
    links = sum(
        len(response.get("links", {}))
        for item in schema.raw_schema["paths"].values()
        for operation in item.values()
        for response in operation.get("responses", {}).values()
    )
    assert links >= 5

    class Machine(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            fresh.renew()

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, object]:
            return {"headers": _role_headers(fresh.svc, case.operation)}

        def validate_response(
            self, response: schemathesis.Response, case: schemathesis.Case, **kwargs: object
        ) -> None:
            assert response.status_code < 500, (case.method, case.path, response.text[:300])

    Machine.run(  # the services end with the test's ASGI lifespan
        settings=settings(
            max_examples=25,  # each on a fresh service (0.2 s on SQLite, 0.5 s on PostgreSQL)
            stateful_step_count=6,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
