"""The ledger on SQLite and PostgreSQL: appends, heads, tamper evidence, effective records."""

from __future__ import annotations

import itertools
import random
import shutil
import sqlite3
import warnings
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from xinyong.domain.catalog import load_catalog
from xinyong.ledger import append, proofs
from xinyong.ledger.append import Batch, TreeHead, append_batch, read_head
from xinyong.ledger.database import (
    INQUIRY_SCHEMA,
    WRITE_LOCK,
    ForeignInquiryLog,
    inquiry_log_path,
    open_database,
    take_write_lock,
)
from xinyong.ledger.effective import EventType, current_subjects, effective_records
from xinyong.ledger.entries import CONTENT_COLUMNS, entry_hash
from xinyong.ledger.inquiry_tree import verify_inquiries
from xinyong.ledger.lifecycle import UnknownRecord, append_event
from xinyong.ledger.merkle import EMPTY_ROOT, inclusion_proof
from xinyong.ledger.proofs import ProofRefused, prove_inclusion, prove_inclusions, record_entries
from xinyong.ledger.schema import inquiries, metadata
from xinyong.ledger.schema import records as record_table
from xinyong.ledger.schema import subjects as subject_table
from xinyong.ledger.verify import parse_tree_head, verify_ledger


def _fill(engine: Engine, batches: int = 3, per_batch: int = 12) -> list[TreeHead]:
    """Append batches mixing subjects, records and events; return the head after each."""
    heads = []
    n = 0
    for b in range(batches):
        batch = Batch()
        for i in range(per_batch):
            sid = f"P{n:04d}"
            batch.subjects.append((sid, "person", f"Name {n}", "{}"))
            batch.records.append(
                (
                    "court",
                    f"R{n}",
                    sid,
                    "person",
                    "court.defaulter",
                    date(2024, 1 + b, 1 + i),
                    f"case-{n}" if i % 2 else None,
                    '{"amount":100}',
                    None,
                )
            )
            n += 1
        with engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
            heads.append(append_batch(conn, batch, f"batch {b}"))
    return heads


@pytest.fixture
def engine(ledger_url: str) -> Engine:
    engine = open_database(ledger_url)
    yield engine  # type: ignore[misc]
    engine.dispose()


def _verify(engine: Engine, against: TreeHead | None = None):  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return verify_ledger(conn, against)


def test_empty_ledger(engine: Engine) -> None:
    with engine.connect() as conn:
        assert read_head(conn) == TreeHead(0, EMPTY_ROOT)
    result = _verify(engine)
    assert result.ok
    assert result.size == 0


def test_heads_grow_and_verify(engine: Engine) -> None:
    heads = _fill(engine)
    assert [h.size for h in heads] == [24, 48, 72]
    with engine.connect() as conn:
        assert read_head(conn).token == heads[-1].token
    result = _verify(engine)
    assert result.ok, result.problems
    assert result.size == 72
    assert result.root == heads[-1].root
    assert result.checkpoints == 3
    for head in heads:  # every earlier head is a prefix of the log
        assert _verify(engine, head).ok


def test_heads_over_many_chunks_verify(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch hashed in several chunks (each extends the frontier as it is handed over) has
    the head that the leaves give, and verifies."""
    monkeypatch.setattr(append, "_CHUNK", 5)
    heads = _fill(engine, batches=2, per_batch=12)
    assert [h.size for h in heads] == [24, 48]
    result = _verify(engine)
    assert result.ok, result.problems
    assert result.root == heads[-1].root


def test_a_bulk_insert_that_stops_early_commits_nothing(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checkpoint must cover the rows written: a bulk path that leaves a chunk of rows
    unread fails the batch (rows are hashed, and counted, a chunk at a time)."""
    head = _fill(engine, batches=1)[-1]
    monkeypatch.setattr(append, "_CHUNK", 5)
    insert = append._bulk_insert

    def partial(conn: sa.Connection, table: sa.Table, rows: Iterable[tuple[object, ...]]) -> None:
        insert(conn, table, list(itertools.islice(rows, 3)))

    monkeypatch.setattr(append, "_bulk_insert", partial)
    with pytest.raises(RuntimeError, match="subjects: 5 of 12 written"):
        _fill(engine, batches=1)
    with engine.connect() as conn:
        assert read_head(conn) == head
    assert _verify(engine).ok


def test_schema_matches_migrations(engine: Engine) -> None:
    inspector = sa.inspect(engine)
    for table in metadata.sorted_tables:
        # A SQLite ledger keeps its inquiry log in the attached file.
        own_file = engine.dialect.name == "sqlite" and table.name in (
            "inquiries",
            "inquiry_checkpoints",
            "pending_notices",
        )
        schema = INQUIRY_SCHEMA if own_file else None
        migrated = {c["name"] for c in inspector.get_columns(table.name, schema=schema)}
        assert migrated == {c.name for c in table.columns}, table.name
        with warnings.catch_warnings():
            # the related-person index is on an expression, which SQLAlchemy cannot reflect
            # on SQLite (tests/ledger/test_related_index.py shows the lookup uses it)
            warnings.filterwarnings(
                "ignore", "Skipped unsupported reflection of expression-based index"
            )
            indexes = {i["name"] for i in inspector.get_indexes(table.name, schema=schema)}
        assert {i.name for i in table.indexes} <= indexes


def _inquiry(decision_id: str) -> dict[str, object]:
    return {
        "decision_id": decision_id,
        "relying_party": "airline",
        "subject_id": "ext:a",
        "measure": "m",
        "scheme_id": "s",
        "version": "v",
        "as_of": date(2025, 1, 1),
        "known_at": 0,
        "applies": False,
        "made_at": "2025-01-01T00:00:00.000000Z",
    }


def test_checks_logged_before_the_tree_are_placed_in_it(tmp_path: Path) -> None:
    """Revision 0017 places the checks already logged in the inquiry log's new tree, in the
    order they were made, so that the upgraded ledger verifies."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    engine = _ledger_at(url, "0016")
    with engine.begin() as conn:
        late, early = _inquiry("d1"), _inquiry("d2")
        late["made_at"], late["applies"] = "2025-01-02T00:00:00.000000Z", True
        conn.exec_driver_sql(
            "INSERT INTO inquiries (decision_id, relying_party, subject_id, measure, scheme_id, "
            "version, as_of, known_at, applies, made_at) VALUES "
            "(:decision_id, :relying_party, :subject_id, :measure, :scheme_id, :version, "
            ":as_of, :known_at, :applies, :made_at)",
            [late, early],
        )
    engine.dispose()
    engine = open_database(url)
    try:
        with engine.connect() as conn:
            placed = (
                conn.exec_driver_sql("SELECT decision_id FROM inquiries ORDER BY position")
                .scalars()
                .all()
            )
            result = verify_inquiries(conn)
    finally:
        engine.dispose()
    assert placed == ["d2", "d1"]
    assert result.ok, result.problems
    assert result.size == 2


def _ledger_at(url: str, revision: str) -> Engine:
    """A new ledger migrated only up to ``revision`` (to test the revisions after it)."""
    from alembic import command

    from xinyong.ledger.database import _alembic_config

    engine = open_database(url, migrate=False)
    config = _alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    return engine


def test_inquiries_move_to_their_own_file(tmp_path: Path) -> None:
    """Revision 0009 moves a SQLite ledger's inquiries, rows and all, beside it."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    engine = _ledger_at(url, "0008")
    with engine.begin() as conn:
        conn.execute(inquiries.insert(), [_inquiry("d1"), _inquiry("d2")])
    engine.dispose()
    engine = open_database(url)
    try:
        with engine.connect() as conn:
            main = conn.exec_driver_sql(
                "SELECT name FROM main.sqlite_master WHERE name = 'inquiries'"
            ).all()
            moved = conn.exec_driver_sql(
                f"SELECT decision_id FROM {INQUIRY_SCHEMA}.inquiries ORDER BY decision_id"
            ).all()
            conn.execute(inquiries.insert(), [_inquiry("d3")])  # unqualified: the log's file
            conn.commit()
        assert main == []
        assert [r[0] for r in moved] == ["d1", "d2"]
        assert inquiry_log_path(str(tmp_path / "ledger.db")) == tmp_path / "ledger-inquiries.db"
        with sqlite3.connect(tmp_path / "ledger-inquiries.db") as raw:
            assert raw.execute("SELECT count(*) FROM inquiries").fetchone() == (3,)
    finally:
        engine.dispose()


def test_standings_are_kept_in_their_keys_order(tmp_path: Path) -> None:
    """Revision 0011 rebuilds a SQLite ledger's standings without row ids, rows and all; 0012
    adds what adverse notices name, empty for the runs already stored."""
    from xinyong.ledger.schema import standings

    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    engine = _ledger_at(url, "0010")
    rows = [
        {"run_id": run, "subject_id": who, "score": 1.5, "grade": "A", "lists": "", "measures": m}
        for run, who, m in [("r2", "b", "x"), ("r1", "b", ""), ("r1", "a", "x;y")]
    ]
    with engine.begin() as conn:
        conn.execute(standings.insert(), rows)
    engine.dispose()
    engine = open_database(url)
    try:
        with engine.connect() as conn:
            (sql,) = conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE name = 'standings'"
            ).one()
            indexes = {r[1] for r in conn.exec_driver_sql("PRAGMA index_list(standings)")}
            kept = conn.execute(sa.select(standings).order_by("run_id", "subject_id")).all()
            plan = " ".join(
                str(r[3])
                for r in conn.exec_driver_sql(
                    "EXPLAIN QUERY PLAN SELECT measures FROM standings "
                    "WHERE run_id = 'r1' AND subject_id = 'a'"
                )
            )
        assert sql.rstrip().endswith("WITHOUT ROWID")
        assert "ix_standings_subject" in indexes
        assert [tuple(r) for r in kept] == sorted(
            (r["run_id"], r["subject_id"], 1.5, "A", "", r["measures"], None) for r in rows
        )
        assert "PRIMARY KEY" in plan  # one search, in the key's own B-tree
    finally:
        engine.dispose()


def _locked(path: Path) -> bool:
    """Whether another connection holds the file's write lock."""
    probe = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc):
            raise
        return True
    finally:
        probe.close()
    return False


def test_each_file_is_write_locked_on_its_own(tmp_path: Path) -> None:
    """An append holds the ledger file's lock, not the inquiry log's: checks go on being logged
    while records are appended. A transaction that reads the log and then writes it takes the
    log's lock first, and so is not undone by a check logged in between."""
    ledger, log = tmp_path / "ledger.db", tmp_path / "ledger-inquiries.db"
    engine = open_database(f"sqlite:///{ledger}")
    try:
        with engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
            read_head(conn)
            assert (_locked(ledger), _locked(log)) == (True, False)
            with sqlite3.connect(log, isolation_level=None) as other:  # a check logged meanwhile
                other.execute(
                    "INSERT INTO inquiries VALUES (?,?,?,?,?,?,?,?,?,?,NULL,NULL,NULL)",
                    (
                        "d0",
                        "airline",
                        "ext:a",
                        "m",
                        "s",
                        "v",
                        "2025-01-01",
                        0,
                        0,
                        "2025",
                    ),
                )
            conn.execute(inquiries.insert(), [_inquiry("d1")])  # written unread: no lock needed
        assert (_locked(ledger), _locked(log)) == (False, False)

        with engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
            take_write_lock(conn, INQUIRY_SCHEMA)
            assert (_locked(ledger), _locked(log)) == (True, True)
            seen = conn.execute(sa.select(sa.func.count()).select_from(inquiries)).scalar_one()
            conn.execute(inquiries.insert(), [_inquiry("d2")])
        assert seen == 2

        # Without the lock, a read then a write of the log fails once a check came in between.
        def read_then_write() -> None:
            with engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
                conn.execute(sa.select(sa.func.count()).select_from(inquiries)).scalar_one()
                with sqlite3.connect(log, isolation_level=None) as other:
                    other.execute("DELETE FROM inquiries WHERE decision_id = 'd0'")
                conn.execute(inquiries.insert(), [_inquiry("d3")])

        with pytest.raises(sa.exc.OperationalError, match="locked"):
            read_then_write()
    finally:
        engine.dispose()


def test_another_ledgers_inquiry_file_is_refused(tmp_path: Path) -> None:
    for name in ("a.db", "b.db"):
        open_database(f"sqlite:///{tmp_path / name}").dispose()
    (tmp_path / "b-inquiries.db").unlink()
    shutil.copy(tmp_path / "a-inquiries.db", tmp_path / "b-inquiries.db")
    with pytest.raises(ForeignInquiryLog, match=r"b-inquiries\.db is the inquiry log of another"):
        open_database(f"sqlite:///{tmp_path / 'b.db'}")
    (tmp_path / "b-inquiries.db").unlink()
    fresh = tmp_path / "c.db"
    shutil.copy(tmp_path / "a-inquiries.db", tmp_path / "c-inquiries.db")
    with pytest.raises(Exception, match="already holds tables; it belongs to another ledger"):
        open_database(f"sqlite:///{fresh}")


def test_migrations_are_idempotent(ledger_url: str) -> None:
    for _ in range(2):
        open_database(ledger_url).dispose()


def _tamper_sql(engine: Engine, statements: list[str]) -> None:
    with engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)


def _positions(engine: Engine, table: str) -> list[int]:
    with engine.connect() as conn:
        return [p for (p,) in conn.exec_driver_sql(f"SELECT position FROM {table}")]


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("kind", ["modify", "delete", "insert", "reorder", "modify-both"])
def test_tampering_is_detected_and_named(engine: Engine, kind: str, seed: int) -> None:
    _fill(engine)
    rng = random.Random(seed)
    records = sorted(_positions(engine, "records"))
    target = rng.choice(records[:-1])
    if kind == "modify":
        _tamper_sql(
            engine, [f"UPDATE records SET code = 'court.breach_judgment' WHERE position = {target}"]
        )
        expected = target
    elif kind == "delete":
        _tamper_sql(engine, [f"DELETE FROM records WHERE position = {target}"])
        expected = target
    elif kind == "reorder":
        other = rng.choice([p for p in records if p != target])
        _tamper_sql(
            engine,
            [
                f"UPDATE records SET position = -1 WHERE position = {target}",
                f"UPDATE records SET position = {target} WHERE position = {other}",
                f"UPDATE records SET position = {other} WHERE position = -1",
            ],
        )
        expected = min(target, other)
    elif kind == "modify-both":  # the content and its stored hash rewritten together
        with engine.begin() as conn:
            cols = ", ".join(CONTENT_COLUMNS["records"])
            row = conn.exec_driver_sql(
                f"SELECT {cols} FROM records WHERE position = {target}"
            ).one()
            values = list(row)
            values[4] = "court.breach_judgment"
            digest = entry_hash("records", target, values)
            conn.execute(
                sa.text("UPDATE records SET code = :code, leaf_hash = :h WHERE position = :p"),
                {"code": values[4], "h": digest, "p": target},
            )
        result = _verify(engine)
        assert not result.ok
        assert "checkpoint" in result.problems[0].message
        return
    else:  # insert a forged record between the others: it must claim some position
        size = len(records) * 2
        with engine.begin() as conn:
            values = (
                "court",
                "FORGED",
                "P9999",
                "person",
                "court.defaulter",
                "2024-01-01",
                None,
                "{}",
                None,
                "2024-01-01T00:00:00.000000Z",
            )
            position = rng.choice([target, size])
            digest = entry_hash("records", position, values)
            table = "events" if position == target else "records"
            if table == "events":  # a duplicate position smuggled in through another table
                conn.exec_driver_sql(
                    "INSERT INTO events (position, event_type, source, record_id, effective_on, "
                    "actor, reason, attrs, recorded_at, leaf_hash) VALUES "
                    f"({position}, 'revoked', 'court', 'R1', '2024-01-01', 'x', 'x', '{{}}', "
                    "'2024-01-01T00:00:00.000000Z', :h)".replace(
                        ":h", "%s" if engine.dialect.name == "postgresql" else "?"
                    ),
                    (digest,),
                )
            else:
                conn.execute(
                    sa.text(
                        "INSERT INTO records (position, source, record_id, subject_id, "
                        "subject_kind, code, occurred_at, case_id, attrs, evidence, recorded_at, "
                        "leaf_hash) VALUES (:p, :s, :r, :sid, :k, :c, :o, :case, :a, :e, :t, :h)"
                    ),
                    dict(
                        zip(
                            ["s", "r", "sid", "k", "c", "o", "case", "a", "e", "t"],
                            values,
                            strict=True,
                        ),
                        p=position,
                        h=digest,
                    ),
                )
        expected = position
    result = _verify(engine)
    assert not result.ok
    assert result.problems[0].position == expected, result.problems


def test_against_catches_a_full_rewrite(engine: Engine) -> None:
    """Rewriting rows, hashes and checkpoints fools the database, not a kept tree head."""
    heads = _fill(engine)
    kept = heads[0]
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM checkpoints")
        conn.exec_driver_sql("DELETE FROM records")
        conn.exec_driver_sql("DELETE FROM subjects")
    _fill(engine, batches=1, per_batch=30)  # a different history of 60 entries
    assert _verify(engine).ok  # self-consistent
    result = _verify(engine, kept)
    assert not result.ok
    assert "history was rewritten" in result.problems[0].message


def test_against_detects_shrinking(engine: Engine) -> None:
    heads = _fill(engine)
    bigger = TreeHead(heads[-1].size + 5, heads[-1].root)
    result = _verify(engine, bigger)
    assert not result.ok
    assert "shrank" in result.problems[0].message


def test_parse_tree_head() -> None:
    head = parse_tree_head(f"12:{'ab' * 32}")
    assert head.size == 12
    assert head.token == f"12:{'ab' * 32}"
    for bad in ("12", "x:ab", f"12:{'ab' * 31}", f"-1:{'ab' * 32}"):
        with pytest.raises(ValueError, match="tree head"):
            parse_tree_head(bad)


def _effective(
    engine: Engine, as_of: date, known_at: int | None = None, expire: bool = False
) -> set[str]:
    catalog = load_catalog() if expire else None
    with engine.connect() as conn:
        return {row.record_id for row in conn.execute(effective_records(as_of, known_at, catalog))}


def test_effective_records_bitemporal(engine: Engine) -> None:
    heads = _fill(engine, batches=1, per_batch=4)  # R0..R3 dated 2024-01-01..04
    assert _effective(engine, date(2024, 1, 2)) == {"R0", "R1"}
    with engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
        append_event(
            conn,
            EventType.REVOKED,
            "court",
            "R0",
            effective_on=date(2024, 5, 1),
            actor="operator",
            reason="objection upheld",
        )
        append_event(
            conn,
            EventType.REPAIRED,
            "court",
            "R1",
            effective_on=date(2024, 6, 1),
            actor="operator",
            reason="credit repair approved",
        )
        after = append_event(
            conn,
            EventType.EXPIRED,
            "court",
            "R2",
            effective_on=date(2024, 7, 1),
            actor="system",
            reason="maximum display period",
        )
    # revocation voids the record for every valid time; repair and expiry from their date
    assert _effective(engine, date(2024, 1, 10)) == {"R1", "R2", "R3"}
    assert _effective(engine, date(2024, 6, 1)) == {"R2", "R3"}
    assert _effective(engine, date(2024, 7, 1)) == {"R3"}
    # replay: as known before the events, everything counts
    assert _effective(engine, date(2024, 7, 1), known_at=heads[0].size) == {"R0", "R1", "R2", "R3"}
    assert after.size == heads[0].size + 3
    # court.defaulter's maximum display period in the bundled catalog is 5y = 1825 days
    end = date(2024, 1, 4) + timedelta(days=1825)
    assert _effective(engine, end - timedelta(days=1), expire=True) == {"R3"}
    assert _effective(engine, end, expire=True) == set()
    assert _verify(engine).ok


def test_events_need_a_known_record_and_a_reason(engine: Engine) -> None:
    _fill(engine, batches=1, per_batch=1)
    with engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
        with pytest.raises(UnknownRecord):
            append_event(
                conn,
                EventType.REVOKED,
                "court",
                "nope",
                effective_on=date(2024, 1, 1),
                actor="op",
                reason="x",
            )
        with pytest.raises(ValueError, match="reason"):
            append_event(
                conn,
                EventType.REVOKED,
                "court",
                "R0",
                effective_on=date(2024, 1, 1),
                actor="op",
                reason=" ",
            )


def test_current_subjects_takes_newest_version(engine: Engine) -> None:
    _fill(engine, batches=1, per_batch=2)
    with engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
        append_batch(conn, Batch(subjects=[("P0000", "person", "Renamed", "{}")]), "rename")
    with engine.connect() as conn:
        rows = {r.subject_id: r.display_name for r in conn.execute(current_subjects())}
        old = {r.subject_id: r.display_name for r in conn.execute(current_subjects(known_at=4))}
    assert rows == {"P0000": "Renamed", "P0001": "Name 1"}
    assert old == {"P0000": "Name 0", "P0001": "Name 1"}


def test_per_subject_statement_matches_the_effective_view(engine: Engine) -> None:
    """One subject's statement gives the view's records, and the many subjects' statement
    (an array of subjects on PostgreSQL, ``IN`` lists elsewhere) gives each one's, in order."""
    from xinyong.scoring.ledger_source import subject_records, subjects_records

    heads = _fill(engine, batches=2, per_batch=3)
    with engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
        append_event(
            conn,
            EventType.REVOKED,
            "court",
            "R0",
            effective_on=date(2024, 5, 1),
            actor="operator",
            reason="objection upheld",
        )
        append_event(
            conn,
            EventType.REPAIRED,
            "court",
            "R4",
            effective_on=date(2024, 6, 1),
            actor="operator",
            reason="repair approved",
        )
    catalog = load_catalog()
    with engine.connect() as conn:
        for as_of in (date(2024, 1, 2), date(2024, 6, 1), date(2029, 1, 2), date(2030, 1, 1)):
            for known_at in (None, heads[0].size, heads[1].size):
                for cat in (None, catalog):
                    view = {
                        (row.subject_id, row.record_id)
                        for row in conn.execute(effective_records(as_of, known_at, cat))
                    }
                    ids = [f"P{n:04d}" for n in range(6)] + ["P9999"]  # and one never seen
                    each = {s: subject_records(conn, s, as_of, known_at, cat) for s in ids}
                    per_subject = {(r.subject_id, r.record_id) for s in ids for r in each[s]}
                    assert per_subject == view, (as_of, known_at, cat is not None)
                    many = subjects_records(conn, ids[::-1], as_of, known_at, cat)
                    assert many == each, (as_of, known_at, cat is not None)


def test_a_decisions_grounds_are_its_records_entries_below_its_size(engine: Engine) -> None:
    """``record_entries`` finds a record's entry and the events on it that the ledger held at a
    size, and ``prove_inclusions`` proves them as one ``prove_inclusion`` each would."""
    heads = _fill(engine, batches=1, per_batch=4)  # subjects at 0-3, records R0-R3 at 4-7
    with engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
        revoked = append_event(
            conn,
            EventType.REVOKED,
            "court",
            "R1",
            effective_on=date(2024, 5, 1),
            actor="operator",
            reason="objection upheld",
        )
    with engine.connect() as conn:
        keys = [("court", "R1"), ("court", "R3"), ("court", "missing")]
        before = record_entries(conn, keys, heads[0].size)
        after = record_entries(conn, keys, revoked.size)
        assert before == [5, 7]
        assert after == [5, 7, revoked.size - 1]  # the event, once the ledger held it
        proofs = prove_inclusions(conn, after, revoked.size)
        assert proofs == [prove_inclusion(conn, i, revoked.size) for i in after]
        assert prove_inclusions(conn, [], 0) == []
        with pytest.raises(ProofRefused, match="index must be from 0 to"):
            prove_inclusions(conn, [5, revoked.size], revoked.size)


def test_proofs_of_several_entries_over_many_blocks_are_the_reference_proofs(
    engine: Engine,
) -> None:
    """Over a ledger of several blocks of leaves whose checkpoints end inside a block, the
    proofs of several entries at once, with the checkpoint given or read, are the reference
    proofs over every leaf hash; a checkpoint of another size is refused."""
    heads = _fill(engine, batches=4, per_batch=23)  # 184 entries; checkpoints at 46, 92, ...
    with engine.connect() as conn:
        leaves = [
            bytes(row.leaf_hash)
            for row in conn.execute(
                sa.union_all(
                    *(sa.select(t.c.position, t.c.leaf_hash) for t in (subject_table, record_table))
                ).order_by("position")
            )
        ]
        rng = random.Random(7)
        for head in heads:
            indices = sorted(rng.sample(range(head.size), 5))
            given = prove_inclusions(conn, indices, head.size, head=head)
            assert given == prove_inclusions(conn, indices, head.size)
            for proof, index in zip(given, indices, strict=True):
                assert proof["leaf_hash"] == leaves[index].hex()
                assert proof["proof"] == [
                    node.hex() for node in inclusion_proof(leaves[: head.size], index)
                ]
        with pytest.raises(ValueError, match="of size 46, not 92"):
            prove_inclusions(conn, [1], 92, head=heads[0])


def test_warming_stopped_early_keeps_what_it_read(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``warm`` stops between blocks when asked; the subtrees it kept so far serve the next
    proof, which reads the rest and proves as a process that never warmed would."""
    head = _fill(engine)[-1]
    monkeypatch.setattr(proofs, "_WARM_STEP", 8)
    monkeypatch.setattr(proofs, "_KEPT", {})
    answers = iter([False, True])
    with engine.connect() as conn:
        proofs.warm(conn, stopped=lambda: next(answers))
        (kept,) = proofs._KEPT.values()
        assert kept.size == 8  # one block, then stopped
        warmed = [prove_inclusion(conn, i, head.size) for i in range(head.size)]
        monkeypatch.setattr(proofs, "_KEPT", {})
        assert warmed == [prove_inclusion(conn, i, head.size) for i in range(head.size)]


def test_current_subjects_is_an_index_lookup_per_subject_on_sqlite(engine: Engine) -> None:
    """Joined to a list's entries, the newest version is found by the ``(subject_id, position)``
    index for each entry: the earlier ``IN (SELECT max(position) ... GROUP BY)`` form scanned
    every subject again per entry on SQLite (a list of 3,000 took a second to show)."""
    if engine.dialect.name != "sqlite":
        pytest.skip("the plan is SQLite's")
    _fill(engine, batches=1, per_batch=3)
    who = current_subjects(known_at=100).subquery()
    query = (
        sa.select(who.c.display_name)
        .join_from(record_table, who, who.c.subject_id == record_table.c.subject_id)
        .where(record_table.c.subject_id == "P0001")
    )
    with engine.connect() as conn:
        sql = str(query.compile(conn, compile_kwargs={"literal_binds": True}))
        plan = " | ".join(str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
        assert conn.execute(query).scalars().all() == ["Name 1"]
    assert "LIST SUBQUERY" not in plan, plan
    newer = "SEARCH newer USING INDEX ix_subjects_subject_position (subject_id=? AND position>?"
    assert newer in plan, plan
