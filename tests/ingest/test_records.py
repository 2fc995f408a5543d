"""How a subject is registered when an ingest first sees its id."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from xinyong.domain.identifiers import (
    IdentifierKind,
    IdentifierRefused,
    canonical_subject_id,
    classify,
    resident_id_check_digit,
    synthetic_resident_id,
    synthetic_uscc,
)
from xinyong.ingest.records import (
    IngestReport,
    _batch_of,
    _first_seen,
    _Run,
    _subject_registration,
    new_subjects,
)
from xinyong.ledger.append import RecordRow


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
    assert _first_seen(fresh, run, report) == fresh  # the keys are distinct
    batch = _batch_of(fresh, {}, None, run, report)
    subjects, rows, rejected = _one_by_one(fresh, dict(known))
    assert [s[0] for s in batch.subjects] == subjects
    assert batch.subjects == [_subject_registration(s, run.kinds[s]) for s in subjects]
    assert batch.records == rows
    assert [reject.line for reject in report.rejects] == rejected
    if new_subjects(fresh, known) is not None:
        assert not rejected


def _first_seen_one_by_one(
    good: list[tuple[int, RecordRow]], seen: dict[tuple[str, str], int]
) -> tuple[list[tuple[int, RecordRow]], int, list[int]]:
    """Rows whose key is new, duplicates and conflicting lines, a row at a time."""
    fresh, duplicates, conflicts = [], 0, []
    for line, row in good:
        previous = seen.get((row[0], row[1]))
        if previous is None:
            seen[(row[0], row[1])] = hash(row)
            fresh.append((line, row))
        elif previous == hash(row):
            duplicates += 1
        else:
            conflicts.append(line)
    return fresh, duplicates, conflicts


BATCHES = st.lists(
    st.lists(st.tuples(st.sampled_from(["r1", "r2", "r3", "r4", "r5"]), st.booleans()), max_size=5),
    max_size=4,
)


@settings(max_examples=300)
@given(BATCHES)
def test_keys_first_seen_in_a_batch_as_row_by_row(batches: list[list[tuple[str, bool]]]) -> None:
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
        expected = _first_seen_one_by_one(good, seen)
        found = _first_seen(good, run, report)
        assert found == expected[0]
        assert report.duplicates - duplicates == expected[1]
        assert [r.line for r in report.rejects[conflicts:]] == expected[2]
        assert run.seen == seen
