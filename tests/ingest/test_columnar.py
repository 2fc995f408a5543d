"""Validating an Arrow batch at once gives the rows that validating each row alone gives."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from xinyong.domain.catalog import load_catalog
from xinyong.domain.identifiers import synthetic_resident_id, synthetic_uscc
from xinyong.ingest.columnar import CLEAN_TEXT_RE2, validate_batch
from xinyong.ingest.files import ingest_records
from xinyong.ingest.records import IngestReport
from xinyong.ingest.validate import CLEAN_TEXT, RecordValidator
from xinyong.ledger.database import open_database

CATALOG = load_catalog()
TODAY = date(2026, 12, 1)
PERSON = synthetic_resident_id(1, date(1980, 1, 2), 11)
OTHER = synthetic_resident_id(2, date(1990, 3, 4), 12)
ORG = synthetic_uscc(2, 5)
SPACES = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]


def _re2(texts: list[str]) -> list[bool]:
    found = pc.match_substring_regex(pa.array(texts, pa.string()), CLEAN_TEXT_RE2)
    return [bool(value) for value in found.to_pylist()]


def test_the_arrow_pattern_is_the_python_one_for_every_character() -> None:
    chars = [chr(c) for c in range(0x3100)] + SPACES + ["\U0001f600", "\ufeff", "\uffff"]
    texts = [form.format(c) for c in chars for form in ("{}", "a{}", "{}a", "a{}a", "ab{}b")]
    texts = [text for text in texts if not re.search("[\ud800-\udfff]", text)]
    expected = [CLEAN_TEXT.fullmatch(text) is not None for text in texts]
    assert _re2(texts) == expected
    assert _re2(["", "a", "a\n", "a b", "\u3000a"]) == [False, True, False, True, False]


@given(st.lists(st.text(), max_size=30))
def test_the_arrow_pattern_agrees_on_any_text(texts: list[str]) -> None:
    texts = [t for t in texts if not re.search("[\ud800-\udfff]", t)]
    assert _re2(texts) == [CLEAN_TEXT.fullmatch(t) is not None for t in texts]


text = st.one_of(
    st.sampled_from(
        ["r1", "r2", " r1", "r1 ", "", "a\tb", "x\u3000", "\u3000x", "正常", "a" * 201]
    ),
    st.text(max_size=6),
    st.none(),
)
CODES = [
    "court.defaulter",
    "tax.evasion",
    "market.abnormal_operations",
    "relation.legal_representative",
    "peer.rating",
    "peer.interaction",
    "nope.x",
    "Bad",
    None,
]
NASTY = {
    "record_id": text,
    "subject_id": st.sampled_from(
        [PERSON.lower(), " " + PERSON, "ext:1", "", PERSON[:-1] + "0", ORG, None]
    ),
    "subject_kind": st.sampled_from(["person", "organization", "alien", "", None]),
    "code": st.sampled_from(CODES),
    "day": st.sampled_from([date(1899, 12, 31), date(1900, 1, 1), TODAY, date(2999, 1, 1), None]),
    "text_day": st.sampled_from(
        [" 2024-01-02", "2024-02-30", "02/01/2024", "", "2999-01-01", None]
    ),
    "source": st.sampled_from(["tax", " court", "", None, "bad source", "c\x00"]),
    "case_id": text,
    "attrs": st.sampled_from(
        [
            '{"amount": 5}',
            '{"amount":"x"}',
            '{"religion":1}',
            "",
            None,
            "{}",
            "[]",
            '{"a":[1],"b":1}',
            "{bad",
            '{"amount":5,"amount":6}',
            '{"amount":18446744073709551616}',
            '{"note":"\\u0001"}',
            '{"note":"a\\tb"}',
            '{"rater":"' + OTHER + '"}',
            '{"person":"' + OTHER + '"}',
            '{"person":"' + OTHER.lower() + '"}',
        ]
    ),
    "evidence": text,
}
"""Values of each field that are unusual, wrong, or need normalising."""
clean = st.fixed_dictionaries(
    {
        "record_id": st.sampled_from(["r1", "r2", "正常", "a b"]),
        "who": st.sampled_from(
            [
                (PERSON, "person", "court.defaulter"),
                (OTHER, "person", "tax.evasion"),
                (ORG, "organization", "market.abnormal_operations"),
                (ORG, "organization", "relation.legal_representative"),
            ]
        ),
        "day": st.sampled_from([date(2024, 1, 2), date(1900, 1, 1), TODAY]),
        "text_day": st.sampled_from(["2024-01-02", "2026-12-01"]),
        "source": st.just("court"),
        "case_id": st.sampled_from([None, "", "c1"]),
        "attrs": st.sampled_from([None, "{}", '{"amount":5}', '{"amount":5.5}']),
        "evidence": st.sampled_from([None, "", "https://e.example/1"]),
    }
)


@st.composite
def row(draw: st.DrawFn) -> dict[str, Any]:
    """A clean row with none, one or a few of its fields made unusual."""
    values = draw(clean)
    values["subject_id"], values["subject_kind"], values["code"] = values.pop("who")
    for name in draw(st.lists(st.sampled_from(sorted(NASTY)), max_size=3, unique=True)):
        values[name] = draw(NASTY[name])
    return values


def _batch(rows: list[dict[str, Any]], text_dates: bool, dropped: list[str]) -> pa.RecordBatch:
    columns: dict[str, list[Any]] = {}
    for name in ("record_id", "subject_id", "subject_kind", "code", "source", "case_id"):
        columns[name] = [r[name] for r in rows]
    columns["occurred_at"] = [r["text_day" if text_dates else "day"] for r in rows]
    columns["attrs"] = [r["attrs"] for r in rows]
    columns["evidence"] = [r["evidence"] for r in rows]
    for name in dropped:
        del columns[name]
    types = {name: pa.string() for name in columns}
    if not text_dates:
        types["occurred_at"] = pa.date32()
    schema = pa.schema([(name, types[name]) for name in columns])
    return pa.RecordBatch.from_pydict(columns, schema=schema)


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(row(), min_size=1, max_size=12),
    text_dates=st.booleans(),
    forced=st.sampled_from([None, "court"]),
    dropped=st.lists(st.sampled_from(["source", "case_id", "attrs", "evidence"]), unique=True),
)
def test_a_batch_validates_as_its_rows_do(
    rows: list[dict[str, Any]], text_dates: bool, forced: str | None, dropped: list[str]
) -> None:
    batch = _batch(rows, text_dates, dropped)
    at_once = validate_batch(RecordValidator(CATALOG, source=forced, today=TODAY), batch)
    alone = RecordValidator(CATALOG, source=forced, today=TODAY)
    for found, values in zip(at_once, batch.to_pylist(), strict=True):
        expected = alone.validate(values)
        if found is not None:
            assert found == expected


def test_clean_rows_are_validated_in_columns() -> None:
    rows = [
        {
            "record_id": f"r{i}",
            "subject_id": PERSON if i % 2 else ORG,
            "subject_kind": "person" if i % 2 else "organization",
            "code": "court.defaulter" if i % 2 else "tax.evasion",
            "day": date(2024, 1, 2),
            "text_day": "2024-01-02",
            "source": "court",
            "case_id": None if i % 3 else "",
            "attrs": '{"amount":5}' if i % 2 else None,
            "evidence": "https://e.example/1",
        }
        for i in range(6)
    ]
    for text_dates in (False, True):
        batch = _batch(rows, text_dates, [])
        found = validate_batch(RecordValidator(CATALOG, today=TODAY), batch)
        assert None not in found
        alone = RecordValidator(CATALOG, today=TODAY)
        assert found == [alone.validate(values) for values in batch.to_pylist()]


def _ingested(tmp_path: Path, table: pa.Table, source: str | None = None) -> IngestReport:
    path = tmp_path / "records.parquet"
    pq.write_table(table, path)
    engine = open_database(f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        return ingest_records(engine, path, CATALOG, source=source, today=TODAY)
    finally:
        engine.dispose()


BASE = {
    "record_id": ["r1", "r2"],
    "subject_id": [PERSON, OTHER],
    "subject_kind": ["person", "person"],
    "code": ["court.defaulter", "court.defaulter"],
    "occurred_at": pa.array([date(2024, 1, 2), date(2024, 1, 3)], pa.date32()),
}


def test_of_two_columns_with_one_name_the_last_is_read(tmp_path: Path) -> None:
    """As the row reader does (and a CSV header): the batch is then validated row by row."""
    names = [*BASE, "source", "attrs", "evidence", "attrs", "evidence"]
    columns = [
        *BASE.values(),
        ["court", "court"],
        ['{"amount":5}', "{}"],
        ["e1", "e2"],
        ['{"amount":7}', '{"religion":"x"}'],
        ["e3", "\x00bad"],
    ]
    report = _ingested(tmp_path, pa.Table.from_arrays(columns, names=names))
    assert report.accepted == 1
    assert [(r.line, r.field) for r in report.rejects] == [(2, "attrs.religion")]
    engine = open_database(f"sqlite:///{tmp_path / 'ledger.db'}")
    with engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT attrs, evidence FROM records").all()
    engine.dispose()
    assert [tuple(row) for row in stored] == [('{"amount":7}', "e3")]


def test_a_column_of_string_views_is_read(tmp_path: Path) -> None:
    table = pa.table(
        {
            **BASE,
            "source": ["court", "bad source"],
            "note": pa.array(["a", "b"], pa.string_view()),
        }
    )
    report = _ingested(tmp_path, table)
    assert report.accepted == 1
    assert [(r.line, r.field) for r in report.rejects] == [(2, "source")]


def test_a_value_python_cannot_hold_is_a_reject_of_its_row(tmp_path: Path) -> None:
    """Text that is not UTF-8 and a date beyond year 9999 get a reject naming the column; the
    other rows of the batch go in."""
    ids = b"r1r2r3"
    evidence = b"ok\xffok"  # row 2's evidence is not UTF-8
    table = pa.table(
        {
            "record_id": pa.Array.from_buffers(
                pa.string(),
                3,
                [None, pa.py_buffer(np.array([0, 2, 4, 6], np.int32)), pa.py_buffer(ids)],
            ),
            "subject_id": [PERSON, OTHER, PERSON],
            "subject_kind": ["person"] * 3,
            "code": ["court.defaulter"] * 3,
            "occurred_at": pa.array([19000, 19001, 3_000_000], pa.int32()).cast(pa.date32()),
            "source": ["court"] * 3,
            "evidence": pa.Array.from_buffers(
                pa.string(),
                3,
                [None, pa.py_buffer(np.array([0, 2, 5, 5], np.int32)), pa.py_buffer(evidence)],
            ),
        }
    )
    report = _ingested(tmp_path, table)
    assert report.accepted == 1
    assert [(r.line, r.field) for r in report.rejects] == [(2, "evidence"), (3, "occurred_at")]
    assert all("cannot be read" in r.reason for r in report.rejects)


def test_attrs_with_a_field_name_twice_is_a_reject(tmp_path: Path) -> None:
    """A Parquet struct may repeat a field name; no JSON object can, so its rows are refused."""
    attrs = pa.StructArray.from_arrays([pa.array([1, 2]), pa.array([3, 4])], ["amount", "amount"])
    report = _ingested(tmp_path, pa.table({**BASE, "source": ["court"] * 2, "attrs": attrs}))
    assert report.accepted == 0
    assert [(r.line, r.field) for r in report.rejects] == [(1, "attrs"), (2, "attrs")]


UNUSUAL: dict[str, list[Any]] = {
    "record_id": [" r1", "", "a" * 201, None],
    "subject_id": [PERSON.lower(), " " + PERSON, "ext:1", "", None, ORG],
    "subject_kind": ["alien", "", None, "organization"],
    "code": ["peer.rating", "relation.legal_representative", "nope.x", None],
    "day": [date(1899, 12, 31), date(2999, 1, 1), None],
    "text_day": [" 2024-01-02", "2024-02-30", "", None],
    "source": [" court", "", None, "bad source", "tax"],
    "case_id": ["", " c", "a" * 201, None],
    "attrs": ['{"amount": 5}', '{"religion":1}', "[]", "{bad", '{"person":"' + OTHER + '"}'],
    "evidence": ["", "x\u3000", None],
}
"""Values of each field that take another way through the columns than a clean row's."""


def test_validating_a_batch_imports_no_pandas(tmp_path: Path) -> None:
    """pyarrow imports pandas (0.3 s, before an ingest's first batch) when a compute function is
    handed a Python value, to ask whether it is a pandas object: every value handed to one is
    an Arrow value. Each way through the columns runs here, in a new interpreter."""
    base = {
        "record_id": "r1",
        "subject_id": PERSON,
        "subject_kind": "person",
        "code": "court.defaulter",
        "day": date(2024, 1, 2),
        "text_day": "2024-01-02",
        "source": "court",
        "case_id": "c1",
        "attrs": '{"amount":5}',
        "evidence": "https://e.example/1",
    }
    rows = [base] + [{**base, name: value} for name, values in UNUSUAL.items() for value in values]
    runs: list[tuple[str, str | None]] = []
    for text_dates in (False, True):
        for forced in (None, "court"):
            for dropped in ([], ["source", "case_id", "attrs", "evidence"]):
                path = tmp_path / f"batch-{len(runs)}.arrow"
                batch = _batch(rows, text_dates, dropped)
                with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, batch.schema) as out:
                    out.write_batch(batch)
                runs.append((str(path), forced))
    script = f"""
import sys
from datetime import date
import pyarrow as pa
from xinyong.domain.catalog import load_catalog
from xinyong.ingest.columnar import validate_batch
from xinyong.ingest.validate import RecordValidator
catalog = load_catalog()
for path, forced in {runs!r}:
    with pa.memory_map(path) as source:
        batch = pa.ipc.open_file(source).get_batch(0)
    validator = RecordValidator(catalog, source=forced, today=date(2026, 12, 1))
    assert None in validate_batch(validator, batch)
print(sorted(name for name in sys.modules if name.split(".")[0] == "pandas")[:3])
"""
    done = subprocess.run(
        [sys.executable, "-P", "-c", script],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
