"""The inquiry log's tree: every logged check has its place, written with it, and
``verify_inquiries`` names a check edited, deleted, moved or added behind the log's back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import Engine

from tests.support import rfc6962
from xinyong.decisions.checks import Decision, log_decisions
from xinyong.decisions.notices import move_pending_notices
from xinyong.ledger.adverse_notices import adverse_notice_id, verify_adverse_notices
from xinyong.ledger.database import inquiry_log_file, one_snapshot, open_database
from xinyong.ledger.entries import INQUIRY_COLUMNS
from xinyong.ledger.inquiry_tree import verify_inquiries


@pytest.fixture
def engine(ledger_url: str) -> Iterator[Engine]:
    engine = open_database(ledger_url)
    yield engine
    engine.dispose()


def _decision(n: int, *, applies: bool = False) -> Decision:
    return Decision(
        decision_id=f"d{n}",
        relying_party="airline",
        subject_id=f"ext:s{n % 3}",
        measure="restrict-flights",
        applies=applies,
        scheme_id="example",
        version="v1",
        as_of=date(2026, 12, 1),
        known_at=7,
        made_at=f"2026-12-01T00:00:{n:02d}.000000Z",
    )


def _log(engine: Engine, *numbers: int) -> None:
    with engine.begin() as conn:
        log_decisions(conn, [(_decision(n, applies=n % 2 == 0), None) for n in numbers])


def _problems(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [str(p) for p in verify_inquiries(conn).problems]


def test_each_batch_of_checks_is_placed_and_checkpointed(engine: Engine) -> None:
    _log(engine, 1, 2)
    _log(engine, 3)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT position, leaf_hash FROM inquiries ORDER BY position"
        ).all()
        heads = conn.exec_driver_sql(
            "SELECT size, root FROM inquiry_checkpoints ORDER BY size"
        ).all()
        result = verify_inquiries(conn)
    assert [r.position for r in rows] == [0, 1, 2]
    assert [h.size for h in heads] == [2, 3]
    # an independent RFC 6962 computation of the newest root from the stored leaves
    assert rfc6962.mth([bytes(r.leaf_hash) for r in rows]) == bytes(heads[-1].root)
    assert result.ok, result.problems
    assert result.size == 3


def test_checks_logged_in_a_longer_transaction_are_placed_at_its_commit(engine: Engine) -> None:
    """A correction logged early in a ledger transaction must not hold the tree's lock (and
    every check's commit) for the rest of it: its place is given at the commit."""
    with engine.begin() as conn:
        log_decisions(conn, [(_decision(1), None)])
        unplaced = conn.exec_driver_sql("SELECT position FROM inquiries").scalar_one()
        assert unplaced is None
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT position FROM inquiries").scalar_one() == 0
    with engine.connect() as conn:  # a rollback leaves nothing to place
        transaction = conn.begin()
        log_decisions(conn, [(_decision(2), None)])
        transaction.rollback()
        with conn.begin():
            log_decisions(conn, [(_decision(3), None)])
    assert _problems(engine) == []


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        ("UPDATE inquiries SET applies = NOT applies WHERE decision_id = 'd2'", "does not match"),
        ("UPDATE inquiries SET subject_id = 'ext:x' WHERE decision_id = 'd1'", "does not match"),
        ("DELETE FROM inquiries WHERE decision_id = 'd2'", "missing: position 1 was deleted"),
        ("DELETE FROM inquiries WHERE decision_id = 'd3'", "the log ends before entry 2"),
        ("UPDATE inquiries SET position = 9 WHERE decision_id = 'd3'", "missing"),
        (
            "INSERT INTO inquiries (decision_id, relying_party, subject_id, measure, scheme_id, "
            "version, as_of, known_at, applies, made_at) SELECT 'd9', relying_party, subject_id, "
            "measure, scheme_id, version, as_of, known_at, applies, made_at FROM inquiries "
            "WHERE decision_id = 'd1'",
            "have no place in the tree",
        ),
    ],
)
def test_a_check_changed_behind_the_logs_back_is_named(
    engine: Engine, tamper: str, expected: str
) -> None:
    _log(engine, 1, 2, 3)
    assert _problems(engine) == []
    with engine.begin() as conn:
        conn.exec_driver_sql(tamper)
    problems = _problems(engine)
    assert problems, "the tampering was not seen"
    assert any(expected in p for p in problems), problems
    assert all(p.startswith("inquiry log") for p in problems), problems


def test_a_stored_boolean_in_another_form_fails(engine: Engine) -> None:
    """SQLite keeps a 2 where a boolean was written: the application's ``IS 1`` no longer
    matches it, and neither does its hash."""
    _log(engine, 2)
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL keeps booleans as booleans")
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE inquiries SET applies = 2")
    assert any("does not match its recorded hash" in p for p in _problems(engine))


def test_the_hashed_columns_are_the_logged_ones() -> None:
    # the decision's, and the hash of the adverse notice the check sent
    assert INQUIRY_COLUMNS[-1] == "notice_hash"
    assert set(INQUIRY_COLUMNS[:-1]) <= set(Decision.__dataclass_fields__)


_NOTICE = {"measure": "restrict-flights", "lists": ["blacklist"], "records": []}


@pytest.mark.parametrize(
    ("tamper", "named"),
    [
        (
            "UPDATE {notices} SET body = replace(body, 'blacklist', 'redlist')",
            "was edited: its body is not the one logged",
        ),
        ("UPDATE {notices} SET created_at = '2020-01-01'", "is not addressed as its check sent it"),
        ("UPDATE {notices} SET subject_id = 'ext:other'", "is not addressed as its check sent it"),
        ("DELETE FROM {notices}", "sent with the check, was deleted"),
        (
            "INSERT INTO notices VALUES ('forged', 'ext:s1', 'adverse-check', '2026', '{}')",
            "adverse notice forged was sent by no check that applied",
        ),
        ("UPDATE inquiries SET notice_hash = NULL", "does not match"),
    ],
)
def test_an_adverse_notice_changed_behind_the_logs_back_is_named(
    engine: Engine, tamper: str, named: str
) -> None:
    """A check's adverse notice is held in the inquiry log through the hash its entry holds."""
    with engine.begin() as conn:
        log_decisions(conn, [(_decision(2, applies=True), _NOTICE), (_decision(3), None)])
    assert _problems(engine) == []
    # on SQLite a check's notice waits beside the inquiry log, in the log's file
    table = "pending_notices" if inquiry_log_file(engine) else "notices"
    with engine.begin() as conn:
        [(stored,)] = conn.exec_driver_sql(f"SELECT body FROM {table}").all()
        assert '"blacklist"' in stored
        conn.exec_driver_sql(tamper.replace("{notices}", table))
    problems = _problems(engine)
    assert problems, "not detected"
    assert named in problems[0], problems


def test_a_notice_for_a_check_that_sent_none_is_named(engine: Engine) -> None:
    """A check that applied a reward sent no notice: a notice with the id derived from it was
    added behind the log's back."""
    with engine.begin() as conn:
        log_decisions(conn, [(_decision(2, applies=True), None)])
        forged = adverse_notice_id("d2")
        conn.exec_driver_sql(
            "INSERT INTO notices VALUES "
            f"('{forged}', 'ext:s2', 'adverse-check', '2026-12-01T00:00:02.000000Z', '{{}}')"
        )
    [problem] = _problems(engine)
    assert f"adverse notice {forged} was sent by no check that applied" in problem


def test_notices_from_before_the_log_held_them_are_left_alone(engine: Engine) -> None:
    """Checks logged before revision 0018 have no hash: their notices (with an id derived from
    the decision's since revision 0012, of their own before) are not named, unless a notice no
    check names is dated after the newest of those checks."""
    old = adverse_notice_id("d2")
    with engine.begin() as conn:
        log_decisions(conn, [(_decision(2, applies=True), None), (_decision(3), None)])
        conn.exec_driver_sql("UPDATE inquiries SET notice_hash = NULL")  # as 0018 found them
        rows = [
            (old, "2026-12-01T00:00:02.500000Z"),  # the check's own, written just after it
            ("0b6f1c2e-0000-4000-8000-000000000001", "2025-01-01T00:00:00.000000Z"),  # pre-0012
            ("0b6f1c2e-0000-4000-8000-000000000002", "2027-01-01T00:00:00.000000Z"),  # later
        ]
        for notice_id, created_at in rows:
            conn.exec_driver_sql(
                "INSERT INTO notices VALUES "
                f"('{notice_id}', 'ext:s2', 'adverse-check', '{created_at}', '{{}}')"
            )
    with engine.connect() as conn:
        problems = [str(p) for p in verify_inquiries(conn).problems if "notice" in str(p)]
    assert problems == [
        "inquiry log: adverse notice 0b6f1c2e-0000-4000-8000-000000000002 was sent by no check "
        "that applied"
    ]


def test_a_notice_moved_beside_the_log_is_held_to_its_check(ledger_url: str) -> None:
    """On SQLite a notice waits in ``pending_notices`` until it is moved to ``notices``; held
    in either, and in both at once while it is being moved."""
    if not ledger_url.startswith("sqlite"):
        pytest.skip("notices wait beside the inquiry log in its own SQLite file")
    engine = open_database(ledger_url)
    try:
        with engine.begin() as conn:
            log_decisions(conn, [(_decision(2, applies=True), _NOTICE)])
            conn.exec_driver_sql("INSERT INTO main.notices SELECT * FROM pending_notices")
        assert _problems(engine) == []  # mid-move: in both
        assert move_pending_notices(engine) == 0  # already copied: only deleted
        assert _problems(engine) == []
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE notices SET body = replace(body, 'black', 'red')")
        [problem] = _problems(engine)
        assert "was edited" in problem
    finally:
        engine.dispose()


def test_one_snapshot_sees_a_notice_being_moved_once(ledger_url: str) -> None:
    """SQLite fixes each file's snapshot when a transaction first reads it: a verification that
    read the ledger's file before a move and the log's file after it would miss the notice. A
    transaction begun by ``one_snapshot`` reads the log's file first, as it begins."""
    if not ledger_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's REPEATABLE READ takes one snapshot of everything")
    engine = open_database(ledger_url)
    try:
        with engine.begin() as conn:
            log_decisions(conn, [(_decision(2, applies=True), _NOTICE)])
        with engine.connect() as conn, one_snapshot(conn).begin():
            conn.exec_driver_sql("SELECT count(*) FROM main.notices").all()  # the ledger first
            assert move_pending_notices(engine) == 1  # meanwhile, by another connection
            assert list(verify_adverse_notices(conn)) == []
    finally:
        engine.dispose()
