"""API keys: created once, authenticated by their secret, revoked for good; a key that cannot be
bound to its name is refused (NotAllowed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.support.service_fixtures import PERSON
from xinyong.application.keys import Principal, Role, authenticate, create_key, revoke_key
from xinyong.domain.refusals import NotAllowed
from xinyong.ledger.database import open_database


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = open_database(f"sqlite:///{tmp_path / 'ledger.db'}")
    yield engine
    engine.dispose()


def test_a_key_authenticates_until_revoked(engine: Engine) -> None:
    with engine.begin() as conn:
        key = create_key(conn, Role.SUBJECT, f" {PERSON.lower()} ", "phone")
    assert key.name == PERSON  # the subject id in its canonical form
    with engine.begin() as conn:
        assert authenticate(conn, key.token) == Principal(Role.SUBJECT, PERSON, key.key_id)
        assert authenticate(conn, key.token[:-1]) is None  # another secret
        assert authenticate(conn, f"xy_{key.key_id}") is None  # no secret
        assert revoke_key(conn, key.key_id)
        assert not revoke_key(conn, key.key_id)  # revoked already
        assert authenticate(conn, key.token) is None


@pytest.mark.parametrize(
    ("role", "name", "reason"),
    [
        (Role.PUBLIC, "", "the public needs no key"),
        (Role.RELYING, "", "a relying key must be bound to a name"),
        (Role.SUBJECT, "not an id", "not a subject id"),
    ],
)
def test_a_key_that_cannot_be_bound_is_not_allowed(
    engine: Engine, role: Role, name: str, reason: str
) -> None:
    with engine.begin() as conn, pytest.raises(NotAllowed, match=reason):
        create_key(conn, role, name)
