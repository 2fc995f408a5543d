"""The operations log: every change to an operational row is an entry of a second tree, written
by the transaction that makes the change, and ``verify_operations`` names any row edited,
deleted or added behind the log's back, and any entry tampered with."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import orjson
import pytest
from sqlalchemy import (
    Boolean,
    Connection,
    Date,
    Engine,
    Integer,
    Table,
    delete,
    insert,
    select,
    true,
    update,
)

from xinyong.application.keys import Role, create_key, revoke_key
from xinyong.decisions.notices import ADVERSE_CHECK, issue_notice
from xinyong.decisions.relying import register_relying_party
from xinyong.ledger.database import open_database
from xinyong.ledger.operations import (
    TRACKED,
    log_existing_rows,
    log_rows,
    read_operations_head,
    verify_operations,
)
from xinyong.ledger.schema import (
    api_keys,
    notices,
    operation_checkpoints,
    operations,
    relying_parties,
)


@pytest.fixture
def engine(ledger_url: str) -> Iterator[Engine]:
    engine = open_database(ledger_url)
    yield engine
    engine.dispose()


def _entries(conn: Connection) -> list[tuple[str, str, dict[str, Any] | None]]:
    rows = conn.execute(
        select(operations.c.tbl, operations.c.row_key, operations.c.state).order_by(
            operations.c.position
        )
    )
    return [(t, k, None if s is None else orjson.loads(s)) for t, k, s in rows]


def _problems(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [str(p) for p in verify_operations(conn).problems]


def test_each_change_is_an_entry_written_with_it(engine: Engine) -> None:
    with engine.begin() as conn:
        key = create_key(conn, Role.OPERATOR, "", "first")
    with engine.begin() as conn:
        assert revoke_key(conn, key.key_id)
    with engine.begin() as conn:
        log_rows(conn, api_keys, api_keys.c.key_id == key.key_id)  # unchanged: nothing added
    with engine.connect() as conn:
        entries = _entries(conn)
        head = read_operations_head(conn)
        checkpoints = conn.execute(select(operation_checkpoints.c.size)).scalars().all()
    assert [(t, k) for t, k, _ in entries] == [("api_keys", f'["{key.key_id}"]')] * 2
    first, second = (state for _, _, state in entries)
    assert first is not None
    assert second is not None
    assert first["revoked_at"] is None
    assert second["revoked_at"] is not None
    assert head.size == 2
    assert sorted(checkpoints) == [1, 2]
    assert _problems(engine) == []


def test_a_rolled_back_change_logs_nothing(engine: Engine) -> None:
    with engine.connect() as conn:
        transaction = conn.begin()
        create_key(conn, Role.OPERATOR, "", "never")
        transaction.rollback()
        with conn.begin():  # the same connection, a new transaction: nothing left pending
            kept = create_key(conn, Role.OPERATOR, "", "kept")
        assert [k for _, k, _ in _entries(conn)] == [f'["{kept.key_id}"]']
    assert _problems(engine) == []


def test_a_webhook_secret_is_logged_as_its_digest(engine: Engine) -> None:
    with engine.begin() as conn:
        registration = register_relying_party(conn, "bank", ["loan-gate"], "credit", None)
    with engine.connect() as conn:
        [(_, _, state)] = _entries(conn)
    assert state is not None
    assert registration.webhook_secret not in orjson.dumps(state).decode()
    assert str(state["webhook_secret"]).startswith("sha256:")


def test_adverse_check_notices_are_left_to_the_check_path(engine: Engine) -> None:
    with engine.begin() as conn:
        issue_notice(conn, "S1", "listing", {"lists": []})
        conn.execute(  # as the check path writes one: not through issue_notice
            insert(notices).values(
                notice_id="n-adverse",
                subject_id="S1",
                kind=ADVERSE_CHECK,
                created_at="t",
                body="{}",
            )
        )
        log_rows(conn, notices, notices.c.subject_id == "S1")
    with engine.connect() as conn:
        assert [t for t, _, _ in _entries(conn)] == ["notices"]
    assert _problems(engine) == []


def _value(table: Table, name: str, n: int) -> object:
    column = table.c[name]
    if isinstance(column.type, Date):
        return date(2026, 1, 1 + n)
    if isinstance(column.type, Boolean):
        return False
    if isinstance(column.type, Integer):  # BigInteger too
        return n
    if name == "kind":
        return "listing"
    length = getattr(column.type, "length", None) or 64
    return f"{name}-{n}"[-length:]


def _row(table: Table, n: int) -> dict[str, object]:
    return {c.name: _value(table, c.name, n) for c in table.columns}


def _some_text_column(table: Table) -> str:
    keys = {c.name for c in table.primary_key.columns}
    return next(
        c.name
        for c in table.columns
        if c.name not in keys
        and c.name != "kind"
        and not isinstance(c.type, Date | Boolean)
        and not isinstance(c.type, Integer)
    )


@pytest.mark.parametrize("name", sorted(TRACKED))
@pytest.mark.parametrize("tamper", ["edit", "delete", "add"])
def test_tampering_behind_the_logs_back_is_named(engine: Engine, name: str, tamper: str) -> None:
    table = TRACKED[name]
    with engine.begin() as conn:
        for n in (1, 2):
            conn.execute(insert(table).values(_row(table, n)))
        log_rows(conn, table, true())
    assert _problems(engine) == []
    first_key = next(iter(table.primary_key.columns))
    with engine.begin() as conn:  # behind the log's back: no log_rows
        if tamper == "edit":
            column = _some_text_column(table)
            conn.execute(
                update(table)
                .where(first_key == _value(table, first_key.name, 1))
                .values({column: "rewritten"})
            )
        elif tamper == "delete":
            conn.execute(delete(table).where(first_key == _value(table, first_key.name, 1)))
        else:
            conn.execute(insert(table).values(_row(table, 3)))
    problems = _problems(engine)
    expected = {"edit": "edited", "delete": "deleted", "add": "added"}[tamper]
    assert len(problems) == 1, problems
    [problem] = problems
    assert problem.startswith("operations log")
    assert f"{expected} behind the log's back" in problem
    assert name in problem


def _tamper_entries(engine: Engine, sql: str) -> list[str]:
    with engine.begin() as conn:
        create_key(conn, Role.OPERATOR, "", "one")
        create_key(conn, Role.OPERATOR, "", "two")
    with engine.begin() as conn:
        conn.exec_driver_sql(sql)
    return _problems(engine)


def test_an_edited_entry_fails_its_hash(engine: Engine) -> None:
    problems = _tamper_entries(
        engine, "UPDATE operations SET state = replace(state, 'one', 'uno') WHERE position = 0"
    )
    assert any("does not match its recorded hash" in p for p in problems), problems
    assert any("edited behind the log's back" in p for p in problems), problems


@pytest.mark.parametrize("with_checkpoint", [False, True])
def test_deleting_the_newest_entry_is_caught(engine: Engine, with_checkpoint: bool) -> None:
    with engine.begin() as conn:
        create_key(conn, Role.OPERATOR, "", "one")
    with engine.begin() as conn:
        newest = create_key(conn, Role.OPERATOR, "", "two")
    with engine.begin() as conn:  # a rollback of the log, without or with its checkpoint
        conn.exec_driver_sql("DELETE FROM operations WHERE position = 1")
        if with_checkpoint:
            conn.exec_driver_sql("DELETE FROM operation_checkpoints WHERE size = 2")
    problems = _problems(engine)
    missing = f'api_keys ["{newest.key_id}"] is not in the log (added behind the log\'s back)'
    assert f"operations log: {missing}" in problems, problems
    if not with_checkpoint:
        assert "operations log entry 1: missing: the checkpoint at size 2" in " ".join(problems)


def test_rows_written_before_the_log_become_its_first_entries(engine: Engine) -> None:
    with engine.begin() as conn:  # rows of a ledger older than the log (no entries)
        conn.execute(insert(relying_parties).values(_row(relying_parties, 1)))
        conn.execute(insert(api_keys).values(_row(api_keys, 1)))
    assert len(_problems(engine)) == 2
    with engine.begin() as conn:
        assert log_existing_rows(conn) == 2
        assert log_existing_rows(conn) == 0
    assert _problems(engine) == []


@pytest.mark.parametrize(
    ("table", "where", "value", "expected"),
    [
        ("schemes", "scheme_id = 'scheme_id-1'", "active = 2", "edited"),  # IS 1 no longer
        ("objections", "objection_id = 'objection_id-1'", "deadline = '2026-W02-6'", "edited"),
        ("objections", "objection_id = 'objection_id-1'", "deadline = 20260110", "edited"),
        ("objections", "objection_id = 'objection_id-1'", "reason = X'00ff'", "edited"),
    ],
)
def test_a_value_stored_in_another_form_is_not_the_state_logged(
    engine: Engine, table: str, where: str, value: str, expected: str
) -> None:
    """What the application's SQL tells apart, the log does too: SQLite keeps what it is given
    (a 2 in a boolean column, a date in another notation, a number, bytes), and verify names
    the row rather than failing on it."""
    tracked = TRACKED[table]
    with engine.begin() as conn:
        conn.execute(insert(tracked).values(_row(tracked, 1)))
        log_rows(conn, tracked, true())
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL refuses a value of another type")
    with engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE {table} SET {value} WHERE {where}")
    problems = _problems(engine)
    assert len(problems) == 1, problems
    assert f"{expected} behind the log's back" in problems[0]
