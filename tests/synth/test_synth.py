"""Tests for the synthetic population and conduct generator (xinyong.synth, ``xinyong synth``).

Expected properties are checked against independent sources: identifiers with
xinyong.domain.identifiers (itself checked against python-stdnum), codes and attributes with
the bundled catalog, birth dates read back from the resident IDs themselves.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from xinyong.cli.synth import synth
from xinyong.domain.catalog import Catalog, load_catalog
from xinyong.domain.identifiers import (
    IdentifierKind,
    classify,
    is_synthetic,
    synthetic_resident_id,
)
from xinyong.domain.protected import protected_terms
from xinyong.domain.records import canonical_attrs
from xinyong.pilots import bundled_pilots
from xinyong.schemes.load import load_scheme
from xinyong.synth import DEFAULT_END, SynthConfig, SynthDataset, generate, subjects_path
from xinyong.synth.peer import SEED_ACCOUNTS
from xinyong.synth.rates import FULFILMENTS, RATES
from xinyong.tabular import read_table

RECORD_COLUMNS = [
    "record_id",
    "subject_id",
    "subject_kind",
    "code",
    "occurred_at",
    "source",
    "case_id",
    "attrs",
    "evidence",
]
SUBJECT_COLUMNS = [
    "subject_id",
    "kind",
    "display_name",
    "resident_id",
    "uscc",
    "region",
    "income_band",
]


def cli() -> typer.Typer:
    """The command registered as in cli/app.py (whose root callback keeps it a group)."""
    app = typer.Typer()
    app.callback()(lambda: None)
    app.command("synth")(synth)
    return app


def unwrapped(output: str) -> str:
    """Error text without the line breaks and box borders of Typer's rich error panel."""
    return re.sub(r"[\s│]+", " ", output)


def run_synth(*args: str) -> None:
    result = CliRunner().invoke(cli(), ["synth", *args])
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def dataset(catalog: Catalog) -> SynthDataset:
    return generate(SynthConfig(people=20_000, organizations=2_000, years=5, seed=11), catalog)


@pytest.fixture(scope="module")
def rows(dataset: SynthDataset) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = dataset.records.to_pylist()
    return rows


# ---------------------------------------------------------------- reproducibility


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_same_seed_same_bytes(suffix: str, tmp_path: Path) -> None:
    first, second = tmp_path / "a" / f"conduct{suffix}", tmp_path / "b" / f"conduct{suffix}"
    first.parent.mkdir()
    second.parent.mkdir()
    common = ["--people", "1500", "--orgs", "150", "--years", "3", "--seed", "5"]
    run_synth(*common, "--out", str(first))
    # The default end date is fixed, so omitting it gives the same data as spelling it out.
    run_synth(*common, "--out", str(second), "--end", "2026-10-31")
    assert first.read_bytes() == second.read_bytes()
    assert subjects_path(first).read_bytes() == subjects_path(second).read_bytes()
    assert subjects_path(first).name == f"conduct.subjects{suffix}"


def test_different_seed_different_data(tmp_path: Path) -> None:
    first, second = tmp_path / "a.parquet", tmp_path / "b.parquet"
    run_synth("--people", "500", "--orgs", "50", "--seed", "1", "--out", str(first))
    run_synth("--people", "500", "--orgs", "50", "--seed", "2", "--out", str(second))
    assert first.read_bytes() != second.read_bytes()
    assert subjects_path(first).read_bytes() != subjects_path(second).read_bytes()


def test_default_end_is_fixed() -> None:
    assert date(2026, 10, 31) == DEFAULT_END
    assert SynthConfig(people=1, organizations=1).end == date(2026, 10, 31)


def test_files_read_back(tmp_path: Path, catalog: Catalog) -> None:
    out = tmp_path / "conduct.parquet"
    run_synth("--people", "300", "--orgs", "30", "--seed", "3", "--out", str(out))
    assert pq.read_schema(out).field("occurred_at").type == pa.date32()
    records = read_table(out)
    expected = generate(SynthConfig(people=300, organizations=30, seed=3), catalog)
    assert records.equals(expected.records)
    assert read_table(subjects_path(out)).equals(expected.subjects)


def test_jsonl_output_nests_attrs(tmp_path: Path) -> None:
    out = tmp_path / "conduct.jsonl"
    run_synth("--people", "200", "--orgs", "20", "--seed", "3", "--out", str(out))
    first = json.loads(out.read_text().splitlines()[0])
    assert list(first) == RECORD_COLUMNS
    assert isinstance(first["attrs"], dict)


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli(), ["synth", "--out", str(tmp_path / "x.xlsx")])
    assert result.exit_code == 2
    assert "unsupported table format" in unwrapped(result.output)
    result = runner.invoke(cli(), ["synth", "--out", str(tmp_path / "x.csv"), "--end", "31.10."])
    assert result.exit_code == 2
    result = runner.invoke(cli(), ["synth", "--out", str(tmp_path / "missing" / "x.csv")])
    assert result.exit_code == 2
    assert "does not exist" in unwrapped(result.output)
    result = runner.invoke(cli(), ["synth", "--out", "-"])
    assert result.exit_code == 2
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- shape


def test_columns_and_order(dataset: SynthDataset) -> None:
    assert dataset.records.column_names == RECORD_COLUMNS
    assert dataset.subjects.column_names == SUBJECT_COLUMNS
    assert dataset.records.schema.field("occurred_at").type == pa.date32()


def test_rows_sorted_and_record_ids_unique_per_source(rows: list[dict[str, object]]) -> None:
    keys = [(r["occurred_at"], r["source"], r["record_id"]) for r in rows]
    assert keys == sorted(keys)
    pairs = [(r["source"], r["record_id"]) for r in rows]
    assert len(set(pairs)) == len(pairs)


def test_sources(rows: list[dict[str, object]]) -> None:
    sources = {r["source"] for r in rows}
    assert {"court", "tax", "bank", "utility", "samr", "police", "city", "redcross"} <= sources


def test_volume_and_long_tail(dataset: SynthDataset) -> None:
    subjects = dataset.subjects.num_rows
    codes = dataset.records.column("code").to_pylist()
    conduct = [
        subject
        for subject, code in zip(
            dataset.records.column("subject_id").to_pylist(), codes, strict=True
        )
        if not code.startswith("peer.")
    ]
    per_subject = Counter(conduct)
    mean = len(conduct) / subjects
    # About ten records per subject over five years, with a long tail; besides, the rating
    # app's meetings and ratings of the last four weeks (two records per meeting and party).
    assert 7 <= mean <= 13
    assert max(per_subject.values()) > 5 * mean
    peer = sum(1 for code in codes if code.startswith("peer."))
    assert 0.25 * 14 * 2 * 0.8 <= peer / dataset.config.people <= 0.25 * 14 * 2 * 1.3


# ---------------------------------------------------------------- identifiers and subjects


def test_subject_ids_valid_synthetic_and_unique(dataset: SynthDataset) -> None:
    subjects = dataset.subjects.to_pylist()
    ids = [s["subject_id"] for s in subjects]
    assert len(set(ids)) == len(ids) == 22_000 + len(SEED_ACCOUNTS)
    # the town's founding accounts: people without a resident ID, the nosedive pilot's seeds
    founders = [s for s in subjects if s["subject_id"] in SEED_ACCOUNTS]
    assert [(s["kind"], s["resident_id"]) for s in founders] == [("person", None)] * 3
    for subject in subjects:
        if subject in founders:
            continue
        check = classify(subject["subject_id"])
        assert check.valid, subject
        assert is_synthetic(subject["subject_id"])
        if subject["kind"] == "person":
            assert check.kind is IdentifierKind.RESIDENT_ID
            assert subject["subject_id"].startswith("00")
            assert subject["resident_id"] == subject["subject_id"]
            assert subject["uscc"] is None
            assert subject["income_band"] in {"low", "middle", "high"}
        else:
            assert subject["kind"] == "organization"
            assert check.kind is IdentifierKind.USCC
            assert subject["subject_id"][2:4] == "00"
            assert subject["uscc"] == subject["subject_id"]
            assert subject["resident_id"] is None
            assert subject["income_band"] in {"small", "medium", "large"}
        assert subject["display_name"]
    assert 4 <= len({s["region"] for s in subjects}) <= 6


def test_vectorized_resident_ids_match_the_scalar_generator(dataset: SynthDataset) -> None:
    for subject in dataset.subjects.slice(0, 2_000).to_pylist():
        number = subject["subject_id"]
        birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
        assert synthetic_resident_id(int(number[2:6]), birth, int(number[14:17])) == number
        assert date(1950, 1, 1) <= birth <= date(2006, 12, 31)


def test_person_and_company_names(dataset: SynthDataset) -> None:
    subjects = dataset.subjects.to_pylist()
    people = [
        s["display_name"]
        for s in subjects
        if s["kind"] == "person" and s["subject_id"] not in SEED_ACCOUNTS
    ]
    orgs = [s["display_name"] for s in subjects if s["kind"] == "organization"]
    assert all(2 <= len(name) <= 3 for name in people)
    assert all(name.endswith(("有限公司", "专业合作社", "店", "馆", "部")) for name in orgs)


def test_subject_kind_matches_subjects(dataset: SynthDataset) -> None:
    kinds = dict(
        zip(
            dataset.subjects.column("subject_id").to_pylist(),
            dataset.subjects.column("kind").to_pylist(),
            strict=True,
        )
    )
    for subject_id, kind in zip(
        dataset.records.column("subject_id").to_pylist(),
        dataset.records.column("subject_kind").to_pylist(),
        strict=True,
    ):
        assert kinds[subject_id] == kind


# ---------------------------------------------------------------- catalog and attributes


def test_codes_kinds_and_attrs_follow_the_catalog(
    rows: list[dict[str, object]], catalog: Catalog
) -> None:
    for row in rows:
        entry = catalog.get(str(row["code"]))
        assert entry is not None, row
        assert row["subject_kind"] in entry.subject_kinds
        attrs = json.loads(str(row["attrs"]))
        assert isinstance(attrs, dict)
        assert canonical_attrs(attrs) == row["attrs"]  # sorted keys, canonical text
        for name, value in attrs.items():
            declared = entry.attrs[name]
            if declared == "boolean":
                assert isinstance(value, bool)
            elif declared == "number":
                assert isinstance(value, int | float)
                assert not isinstance(value, bool)
            else:
                assert isinstance(value, str)


def test_rate_tables_only_name_catalog_codes(catalog: Catalog) -> None:
    # The generator skips unknown codes silently (an operator's catalog may be smaller); this
    # test catches drift between the rate table and the bundled catalog.
    for rate in RATES:
        assert rate.code in catalog, rate.code
    for fulfilment in FULFILMENTS:
        assert fulfilment.listing in catalog
        assert fulfilment.code in catalog


def test_every_rated_code_occurs(rows: list[dict[str, object]]) -> None:
    codes = {r["code"] for r in rows}
    assert {rate.code for rate in RATES} <= codes
    assert {f.code for f in FULFILMENTS} <= codes
    assert {"civic.blood_donation", "civic.volunteer_service"} <= codes


def test_no_protected_attributes(rows: list[dict[str, object]], catalog: Catalog) -> None:
    keys = {key for r in rows for key in json.loads(str(r["attrs"]))}
    assert keys
    columns = set(SUBJECT_COLUMNS) | set(RECORD_COLUMNS)
    codes = {str(r["code"]) for r in rows}
    assert not protected_terms(sorted(keys | columns | codes), catalog.protected_attributes)


# ---------------------------------------------------------------- dates and links


def test_dates_within_window_and_adults_only(rows: list[dict[str, object]]) -> None:
    end = date(2026, 10, 31)
    start = date(2021, 10, 31)  # end - 5 years
    for row in rows:
        occurred = row["occurred_at"]
        assert isinstance(occurred, date)
        assert start <= occurred <= end
        if row["subject_kind"] == "person" and row["subject_id"] not in SEED_ACCOUNTS:
            number = str(row["subject_id"])
            birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
            # 18 years of 365.25 days, rounded: the adult cut-off the generator documents.
            assert occurred >= birth + timedelta(days=6574)


def test_window_follows_end_and_years(catalog: Catalog) -> None:
    data = generate(
        SynthConfig(people=2_000, organizations=100, years=2, seed=4, end=date(2024, 2, 29)),
        catalog,
    )
    dates = data.records.column("occurred_at").to_pylist()
    assert min(dates) >= date(2022, 2, 28)
    assert max(dates) <= date(2024, 2, 29)


def test_fulfilments_follow_their_listing(rows: list[dict[str, object]]) -> None:
    listing_codes = {
        f.code: {g.listing for g in FULFILMENTS if g.code == f.code} for f in FULFILMENTS
    }
    listings = {
        r["case_id"]: r for r in rows if r["case_id"] is not None and r["code"] not in listing_codes
    }
    fulfilled: Counter[object] = Counter()
    for row in rows:
        if row["code"] not in listing_codes:
            continue
        listing = listings[row["case_id"]]
        assert listing["code"] in listing_codes[str(row["code"])]
        assert listing["subject_id"] == row["subject_id"]
        assert listing["occurred_at"] < row["occurred_at"]  # type: ignore[operator]
        fulfilled[row["case_id"]] += 1
        listed = json.loads(str(listing["attrs"]))
        paid = json.loads(str(row["attrs"]))
        if "amount" in paid:
            assert paid["amount"] == listed["amount"]
    assert fulfilled
    assert max(fulfilled.values()) == 1
    # Some listings remain unfulfilled.
    defaulters = [r for r in rows if r["code"] == "court.defaulter"]
    assert 0 < sum(r["case_id"] in fulfilled for r in defaulters) < len(defaulters)


def test_case_ids_unique_per_listing(rows: list[dict[str, object]]) -> None:
    fulfilment_codes = {f.code for f in FULFILMENTS}
    case_ids = [
        r["case_id"]
        for r in rows
        if r["case_id"] is not None
        and r["code"] not in fulfilment_codes
        and not str(r["code"]).startswith("peer.")
    ]
    assert len(case_ids) == len(set(case_ids))
    # a meeting's id is shared by its two interactions and two ratings, and by nothing else
    meetings = Counter(r["case_id"] for r in rows if str(r["code"]).startswith("peer."))
    assert set(meetings.values()) == {4}
    assert not set(meetings) & set(case_ids)


# ---------------------------------------------------------------- group differences


def per_capita(
    dataset: SynthDataset, code: str, column: str, kind: str = "person"
) -> dict[str, float]:
    subjects = [s for s in dataset.subjects.to_pylist() if s["kind"] == kind]
    group_of = {s["subject_id"]: s[column] for s in subjects}
    size = Counter(group_of.values())
    events = Counter(
        group_of[subject_id]
        for subject_id, record_code in zip(
            dataset.records.column("subject_id").to_pylist(),
            dataset.records.column("code").to_pylist(),
            strict=True,
        )
        if record_code == code and subject_id in group_of
    )
    return {group: events[group] / size[group] for group in size}


def test_group_rates_differ(dataset: SynthDataset) -> None:
    defaults = per_capita(dataset, "finance.contract_default", "income_band")
    assert defaults["low"] > 2 * defaults["high"]
    assert defaults["low"] > defaults["middle"] > defaults["high"]
    # Tax findings lean the other way.
    late_tax = per_capita(dataset, "tax.late_filing", "income_band")
    assert late_tax["high"] > late_tax["low"]
    # Regions differ too: the west has the highest debt multiplier.
    arrears = per_capita(dataset, "finance.bank_arrears", "region")
    assert max(arrears, key=arrears.__getitem__) == "west"
    # Small organizations default more than large ones.
    org_defaults = per_capita(dataset, "utility.late_fee", "income_band", kind="organization")
    assert org_defaults["small"] > org_defaults["large"]


def test_two_seeds_share_no_record_or_case_id() -> None:
    first, second = (
        generate(SynthConfig(people=300, organizations=30, years=2, seed=seed)).records
        for seed in (1, 2)
    )
    assert not set(first.column("record_id").to_pylist()) & set(
        second.column("record_id").to_pylist()
    )
    cases = [{c for c in t.column("case_id").to_pylist() if c} for t in (first, second)]
    assert cases[0]
    assert not cases[0] & cases[1]
    assert all("-s1-" in r for r in first.column("record_id").to_pylist())


def test_the_founding_accounts_are_the_nosedive_pilots_seeds() -> None:
    pilot = load_scheme(bundled_pilots()["nosedive-gate"]).scheme
    assert pilot.peer is not None
    assert tuple(pilot.peer.seeds) == SEED_ACCOUNTS


def test_every_organization_has_a_legal_representative(dataset: SynthDataset) -> None:
    records = dataset.records.to_pylist()
    people = {s["subject_id"] for s in dataset.subjects.to_pylist() if s["kind"] == "person"} - set(
        SEED_ACCOUNTS
    )
    represented = {}
    for r in records:
        if r["code"] == "relation.legal_representative":
            represented[r["subject_id"]] = json.loads(r["attrs"])["person"]
    assert len(represented) == dataset.config.organizations
    assert set(represented.values()) <= people
