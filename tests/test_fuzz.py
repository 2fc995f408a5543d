"""Fuzzing the API from its own OpenAPI document: no input makes the service fail (5xx).

Schemathesis generates requests for every operation from the schema (valid and invalid
parameters and bodies); each is sent with a key of a role the operation admits, so the fuzzing
reaches the handlers instead of stopping at 401/403.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.service_fixtures import Service, make_service
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


@pytest.fixture(scope="module")
def api(service: Service) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", service.app)


def test_no_server_errors(api: schemathesis.BaseSchema, service: Service) -> None:
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) > 15
    for operation in operations:
        declared = operation.definition.raw.get(ROLE_KEY, ["public"])
        role = next((r for r in declared if r != "public"), "public")

        _fuzz(operation, service.headers(role))


def _fuzz(operation: schemathesis.APIOperation, headers: dict[str, str]) -> None:
    @settings(
        max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    @given(case=operation.as_strategy())
    def call(case: schemathesis.Case) -> None:
        response = case.call(headers=headers)
        assert response.status_code < 500, (case.method, case.path, response.text[:300])

    call()
