"""How a subject is registered when an ingest first sees its id."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinyong.domain.catalog import load_catalog
from xinyong.domain.identifiers import (
    IdentifierKind,
    IdentifierRefused,
    canonical_subject_id,
    classify,
    resident_id_check_digit,
    synthetic_resident_id,
    synthetic_uscc,
)
from xinyong.ingest import apart as apart_module
from xinyong.ingest.files import ingest_records
from xinyong.ingest.records import (
    IngestReport,
    _Ahead,
    _batch_of,
    _Facts,
    _first_seen,
    _Run,
    _subject_registration,
    ingest_rows,
    new_subjects,
)
from xinyong.ledger.append import RecordRow
from xinyong.ledger.database import open_database


def _reference(subject_id: str, kind: str) -> tuple[str, str, None, str]:
    """The registration as first written: the identifiers ``classify`` finds in the id."""
    check = classify(subject_id)
    identifiers: dict[str, str] = {}
    if check.valid and check.kind is IdentifierKind.RESIDENT_ID and kind == "person":
        identifiers["resident_id"] = subject_id
    elif check.valid and check.kind is IdentifierKind.USCC and kind == "organization":
        identifiers["uscc"] = subject_id
    return (subject_id, kind, None, orjson.dumps(identifiers, option=orjson.OPT_SORT_KEYS).decode())


def _digits_both_ways(seed: int) -> str:
    """An all-digit 18-character id whose first 17 digits end in a valid check digit: a valid
    resident ID that may also be a valid USCC."""
    birth = date(1950, 1, 1) + timedelta(days=seed % 20_000)
    first17 = f"{seed % 1_000_000:06d}{birth:%Y%m%d}{seed % 1000:03d}"
    return first17 + resident_id_check_digit(first17)


def _uscc(region: int, serial: int) -> str:
    try:
        return synthetic_uscc(region, serial)
    except ValueError:  # it would also read as a resident ID
        return "0"


BOTH = "791236197402275616"
"""All digits, a valid resident ID and a valid USCC."""


IDS = st.one_of(
    st.builds(
        synthetic_resident_id,
        st.integers(0, 9999),
        st.dates(date(1900, 1, 1), date(2020, 12, 31)),
        st.integers(0, 999),
    ),
    st.builds(_uscc, st.integers(0, 9999), st.integers(0, 99_999_999)),
    st.builds(_digits_both_ways, st.integers(0, 10**9)),
    st.just(BOTH),
    st.text("0123456789ABCDEFGHJKLMNPQRTUWXYabcxyz.-_:@", min_size=1, max_size=30),
    st.text(min_size=1, max_size=20),
)


@settings(max_examples=400)
@given(IDS, st.sampled_from(["person", "organization"]), st.booleans())
def test_registration_names_what_classify_finds(raw: str, kind: str, lower: bool) -> None:
    try:
        subject_id = canonical_subject_id(raw.lower() if lower else raw, kind)
    except IdentifierRefused:
        return
    assert _subject_registration(subject_id, kind) == _reference(subject_id, kind)


def test_an_id_that_is_both_kinds_of_number_is_no_organization_uscc() -> None:
    assert classify(BOTH).kind is IdentifierKind.RESIDENT_ID
    assert canonical_subject_id(BOTH, "organization") == BOTH  # a valid USCC too
    assert _subject_registration(BOTH, "organization")[3] == "{}"
    assert _subject_registration(BOTH, "person")[3] == f'{{"resident_id":"{BOTH}"}}'


SUBJECTS = ["A1", "B2", "C3", "D4"]
KIND = st.sampled_from(["person", "organization"])
ROW = st.tuples(st.sampled_from(SUBJECTS), KIND)
DAY = date(2024, 1, 2)


def _rows(drawn: list[tuple[str, str]]) -> list[tuple[int, RecordRow]]:
    return [
        (
            line,
            ("court", f"r{line}", sid, kind, "court.defaulter", date(2024, 1, 2), None, "{}", None),
        )
        for line, (sid, kind) in enumerate(drawn, start=1)
    ]


def _one_by_one(
    fresh: list[tuple[int, RecordRow]], kinds: dict[str, str]
) -> tuple[list[str], list[RecordRow], list[int]]:
    """Each row on its own, as the ingest first decided it: new subjects, rows, rejected lines."""
    subjects, rows, rejected = [], [], []
    for line, row in fresh:
        kind = kinds.get(row[2])
        if kind not in (None, row[3]):
            rejected.append(line)
            continue
        if kind is None:
            kinds[row[2]] = row[3]
            subjects.append(row[2])
        rows.append(row)
    return subjects, rows, rejected


@settings(max_examples=300)
@given(
    st.lists(ROW, max_size=12), st.dictionaries(st.sampled_from(SUBJECTS), ROW.map(lambda r: r[1]))
)
def test_a_batch_is_taken_whole_only_when_each_row_on_its_own_would_be(
    drawn: list[tuple[str, str]], known: dict[str, str]
) -> None:
    fresh = _rows(drawn)
    run = _Run()
    run.kinds = dict(known)
    report = IngestReport(Path("x"))
    facts = _Facts.of(fresh)
    assert _first_seen(fresh, facts, run, report) == fresh  # the keys are distinct
    batch = _batch_of(fresh, facts, {}, None, run, report)
    subjects, rows, rejected = _one_by_one(fresh, dict(known))
    assert [s[0] for s in batch.subjects] == subjects
    assert batch.subjects == [_subject_registration(s, run.kinds[s]) for s in subjects]
    assert batch.records == rows
    assert [reject.line for reject in report.rejects] == rejected
    if new_subjects(facts.subjects, known) is not None:
        assert not rejected


def _keys_one_by_one(
    good: list[tuple[int, RecordRow]], seen: dict[tuple[str, str], int]
) -> tuple[list[RecordRow], int, list[int]]:
    """Rows taken, duplicates and conflicting lines, a row at a time."""
    taken, duplicates, conflicts = [], 0, []
    for line, row in good:
        previous = seen.get((row[0], row[1]))
        if previous is None:
            seen[(row[0], row[1])] = hash(row)
            taken.append(row)
        elif previous == hash(row):
            duplicates += 1
        else:
            conflicts.append(line)
    return taken, duplicates, conflicts


BATCHES = st.lists(
    st.lists(st.tuples(st.sampled_from(["r1", "r2", "r3", "r4", "r5"]), st.booleans()), max_size=5),
    max_size=4,
)


@settings(max_examples=300)
@given(BATCHES)
def test_keys_are_taken_in_batches_as_row_by_row(batches: list[list[tuple[str, bool]]]) -> None:
    run, report = _Run(), IngestReport(Path("x"))
    seen: dict[tuple[str, str], int] = {}
    line = 0
    for drawn in batches:
        good: list[tuple[int, RecordRow]] = []
        for record_id, other in drawn:
            line += 1
            row: RecordRow = (
                "court",
                record_id,
                "A1",
                "person",
                "court.defaulter",
                DAY,
                None,
                "{}",
                None,
            )
            good.append((line, (*row[:7], '{"amount":1}', None) if other else row))
        duplicates, conflicts = report.duplicates, len(report.rejects)
        expected = _keys_one_by_one(good, seen)
        fresh = _first_seen(good, _Facts.of(good), run, report)
        batch = _batch_of(fresh, _Facts.of(fresh), {}, None, run, report)
        assert batch.records == expected[0]
        assert report.duplicates - duplicates == expected[1]
        assert sorted(r.line for r in report.rejects[conflicts:]) == expected[2]
        assert run.seen == seen


FILE_ROW = st.tuples(
    st.sampled_from(["r1", "r2", "r3", "r4"]),  # keys repeat
    st.sampled_from([PERSON_A := synthetic_resident_id(9, date(1980, 5, 6), 7), "ext:org-1"]),
    KIND,
    st.sampled_from(['{"amount":1}', '{"amount":2}']),
)


def _csv(path: Path, rows: list[tuple[str, str, str, str]]) -> Path:
    lines = ["record_id,subject_id,subject_kind,code,occurred_at,source,attrs"]
    for record_id, subject_id, kind, attrs in rows:
        code = "court.defaulter" if kind == "person" else "tax.evasion"
        quoted = attrs.replace('"', '""')
        lines.append(f'{record_id},{subject_id},{kind},{code},2024-01-02,court,"{quoted}"')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _ingest_file(
    tmp_path: Path,
    name: str,
    rows: list[tuple[str, str, str, str]],
    batch: int,
    ledger: str,
    *,
    apart: bool = False,
) -> tuple[IngestReport, set[tuple[object, ...]], set[tuple[object, ...]]]:
    path = _csv(tmp_path / f"{name}.csv", rows)
    engine = open_database(f"sqlite:///{tmp_path / ledger}")
    try:
        report = ingest_records(engine, path, load_catalog(), batch_size=batch, apart=apart)
        with engine.connect() as conn:
            stored = {
                tuple(r)
                for r in conn.exec_driver_sql(
                    "SELECT record_id, subject_id, subject_kind, attrs FROM records"
                )
            }
            registered = {
                tuple(r) for r in conn.exec_driver_sql("SELECT subject_id, kind FROM subjects")
            }
    finally:
        engine.dispose()
    return report, stored, registered


@settings(max_examples=25, deadline=None)
@given(
    first=st.lists(FILE_ROW, max_size=4),
    rows=st.lists(FILE_ROW, min_size=1, max_size=8),
    batch=st.integers(2, 8),
)
def test_the_batch_size_changes_nothing_a_furnisher_is_told(
    tmp_path_factory: pytest.TempPathFactory,
    first: list[tuple[str, str, str, str]],
    rows: list[tuple[str, str, str, str]],
    batch: int,
) -> None:
    """The same file, ingested a row at a time in one process and in batches with a preparing
    process (after the same earlier file): the same rows stored, the same subjects, the same
    counts and the same rejects."""
    outcomes = []
    for size, apart in ((1, False), (batch, True)):
        tmp = tmp_path_factory.mktemp("batch")
        _ingest_file(tmp, "earlier", first, 1, "ledger.db") if first else None
        report, stored, registered = _ingest_file(
            tmp, "records", rows, size, "ledger.db", apart=apart
        )
        rejects = sorted((r.line, r.field, r.reason) for r in report.rejects)
        counts = (report.accepted, report.duplicates, report.conflicts, report.rejected)
        outcomes.append((counts, rejects, stored, registered))
    assert outcomes[0] == outcomes[1]


def _api_rows(rows: list[tuple[str, str, str, str]]) -> list[dict[str, object]]:
    return [
        {
            "record_id": f"{record_id}",
            "subject_id": subject_id,
            "subject_kind": kind,
            "code": "court.defaulter" if kind == "person" else "tax.evasion",
            "occurred_at": "2024-01-02",
            "attrs": attrs,
        }
        for record_id, subject_id, kind, attrs in rows
    ]


def _with_another_writer(
    ledger: Path,
    rows: list[tuple[str, str, str, str]],
    batch: int,
    other: list[tuple[str, str, str, str]],
    after: int,
    *,
    apart: bool = False,
) -> tuple[
    tuple[int, int, int, int],
    list[tuple[int, str, str]],
    list[tuple[object, ...]],
    list[tuple[object, ...]],
]:
    """Ingest ``rows`` in batches while another furnisher's ``other`` rows arrive through the
    API once ``after`` batches are in; what the run tells and what the ledger holds, in order."""
    engine = open_database(f"sqlite:///{ledger}")
    batches = 0

    def progress(_done: int, _total: int | None) -> None:
        nonlocal batches
        batches += 1
        if batches == after and other:
            ingest_rows(engine, _api_rows(other), load_catalog(), source="court")

    try:
        path = _csv(ledger.with_suffix(".csv"), rows)
        with pytest.MonkeyPatch.context() as patch:  # each batch commits before the next
            patch.setattr(apart_module, "_GROUP_BATCHES", 1)  # (the other writer comes between)
            report = ingest_records(
                engine, path, load_catalog(), batch_size=batch, progress=progress, apart=apart
            )
        with engine.connect() as conn:
            stored = conn.exec_driver_sql(
                "SELECT record_id, subject_id, subject_kind, attrs FROM records ORDER BY position"
            ).all()
            registered = conn.exec_driver_sql(
                "SELECT subject_id, kind FROM subjects ORDER BY position"
            ).all()
    finally:
        engine.dispose()
    told = (report.accepted, report.duplicates, report.conflicts, report.new_subjects)
    rejects = [(r.line, r.field, r.reason) for r in report.rejects]
    return told, rejects, [tuple(r) for r in stored], [tuple(r) for r in registered]


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(FILE_ROW, min_size=1, max_size=10),
    other=st.lists(FILE_ROW, max_size=3),
    batch=st.integers(1, 4),
    after=st.integers(1, 5),
)
def test_batches_decided_ahead_are_decided_as_under_the_write_lock(
    tmp_path_factory: pytest.TempPathFactory,
    rows: list[tuple[str, str, str, str]],
    other: list[tuple[str, str, str, str]],
    batch: int,
    after: int,
) -> None:
    """The reading thread decides a batch ahead of its append where the run alone has written
    (records.py, ``_decide_ahead``), and so does a preparing process (apart.py, which also
    hashes it ahead); with another furnisher's rows arriving between two batches, the ingest
    stores and tells exactly what one that decides each batch under the write lock does."""
    outcomes = []
    for ahead, apart in ((False, False), (True, False), (True, True)):
        with pytest.MonkeyPatch.context() as patch:
            if not ahead:
                patch.setattr("xinyong.ingest.records._decide_ahead", lambda *_: None)
            ledger = tmp_path_factory.mktemp("ahead") / "ledger.db"
            outcomes.append(_with_another_writer(ledger, rows, batch, other, after, apart=apart))
    assert outcomes[0] == outcomes[1] == outcomes[2]


def test_a_decision_made_ahead_is_undone_when_another_writer_came_between(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    undone: list[int] = []
    undo = _Ahead.undo

    def counted(self: _Ahead, run: _Run) -> None:
        undone.append(len(self.batch.records))
        undo(self, run)

    monkeypatch.setattr(_Ahead, "undo", counted)
    person = synthetic_resident_id(9, date(1980, 5, 6), 7)
    rows = [(f"r{i}", person, "person", '{"amount":1}') for i in range(1, 7)]
    other = [("r3", person, "person", '{"amount":2}'), ("r4", person, "person", '{"amount":1}')]
    told, rejects, stored, registered = _with_another_writer(tmp_path / "l.db", rows, 2, other, 1)
    assert undone == [2]  # the second batch (r3, r4) was decided ahead, then again
    assert told == (4, 1, 1, 1)  # r4 is the other's row; r3 conflicts with it
    assert [line for line, _, _ in rejects] == [4]
    assert [r[0] for r in stored] == ["r1", "r2", "r3", "r4", "r5", "r6"]
    assert [r[3] for r in stored][2:4] == ['{"amount":2}', '{"amount":1}']
    assert registered == [(person, "person")]
