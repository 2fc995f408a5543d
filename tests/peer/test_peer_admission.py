"""Ingest of interactions and ratings: what is accepted, and what is quarantined and why.

Files (``ingest_records``, quarantine in ``FILE.rejects.csv``) and the source API's path
(``ingest_rows``) share the validator and the admission checks; both are exercised here.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine

from tests.support.peer_rows import interaction as meet
from tests.support.peer_rows import ledger_rating
from xinyong.domain.catalog import Catalog, load_catalog
from xinyong.ingest.files import ingest_records
from xinyong.ingest.records import ingest_rows
from xinyong.ingest.rejects import rejects_path
from xinyong.ledger.database import open_database

TODAY = date(2025, 6, 30)


def rate(rid: str, rater: str, rated: str, case: str, day: str, stars: Any = 4) -> dict[str, Any]:
    return dict(ledger_rating(rid, rater, rated, case, day, stars))


def both(case: str, a: str, b: str, day: str) -> list[dict[str, Any]]:
    return [meet(f"{case}-{a}", a, b, case, day), meet(f"{case}-{b}", b, a, case, day)]


@pytest.fixture
def engine(ledger_url: str) -> Iterator[Engine]:
    """A new ledger on each database (the admission's lookups are per-dialect index probes)."""
    engine = open_database(ledger_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def _rejects(engine: Engine, rows: list[dict[str, Any]], catalog: Catalog) -> list[tuple[int, str]]:
    report = ingest_rows(engine, rows, catalog, source="app", today=TODAY)
    return sorted((r.line, r.field) for r in report.rejects)


def test_a_rating_needs_both_parties_interaction(engine: Engine, catalog: Catalog) -> None:
    rows = [
        meet("a1", "a", "b", "I1", "2025-06-01"),  # only a's side of I1
        rate("r1", "a", "b", "I1", "2025-06-02"),  # b's record is missing
        *both("I2", "a", "c", "2025-06-01"),
        rate("r2", "a", "d", "I2", "2025-06-02"),  # d was not in I2
        rate("r3", "a", "c", "I9", "2025-06-02"),  # no such interaction
        rate("r4", "a", "c", "I2", "2025-06-02"),  # fine
    ]
    assert _rejects(engine, rows, catalog) == [(2, "case_id"), (5, "case_id"), (6, "case_id")]


def test_window_once_and_daily_limit(engine: Engine, catalog: Catalog) -> None:
    # The bundled catalog: ratings within 7 days of the interaction, 20 per rater and day.
    assert (catalog.ratings.rating_window_days, catalog.ratings.daily_ratings) == (7, 20)
    rows = both("I1", "a", "b", "2025-06-10")
    rows += [
        rate("early", "a", "b", "I1", "2025-06-09"),  # before the interaction
        rate("late", "a", "b", "I1", "2025-06-18"),  # 8 days after
        rate("ok", "a", "b", "I1", "2025-06-17"),  # 7 days after: the last day
        rate("again", "a", "b", "I1", "2025-06-17"),  # once per rater and interaction
        rate("back", "b", "a", "I1", "2025-06-10"),  # b rating a is b's own rating
    ]
    assert _rejects(engine, rows, catalog) == [
        (3, "occurred_at"),
        (4, "occurred_at"),
        (6, "attrs.rater"),
    ]
    # The daily limit counts ratings already in the ledger: 20 more people met a on 06-20.
    people = [f"p{i:02d}" for i in range(21)]
    rows = [row for i, p in enumerate(people) for row in both(f"J{i}", "a", p, "2025-06-20")]
    first = [rate(f"d{i}", "a", p, f"J{i}", "2025-06-20") for i, p in enumerate(people[:19])]
    assert _rejects(engine, rows + first, catalog) == []
    # a has given 19 ratings on 06-20 (r"ok" was on 06-17); the 20th passes, the 21st does not.
    late = [
        rate("d19", "a", people[19], "J19", "2025-06-20"),
        rate("d20", "a", people[20], "J20", "2025-06-20"),
    ]
    report = ingest_rows(engine, late, catalog, source="app", today=TODAY)
    assert [(r.line, r.field) for r in report.rejects] == [(2, "attrs.rater")]
    assert "daily limit" in report.rejects[0].reason


def test_the_daily_limit_counts_the_ratings_of_people_met_days_before(
    engine: Engine, catalog: Catalog
) -> None:
    """The ledger's ratings counted against the limit on day D are all the rater's ratings of D,
    whenever the rater met the people rated (here on 06-13, the window's first day), whatever
    else the batch holds on other days; other raters' ratings of D do not count."""
    people = [f"q{i:02d}" for i in range(21)]
    rows = [row for i, p in enumerate(people) for row in both(f"K{i}", "a", p, "2025-06-13")]
    rows += [both("F1", "a", "far", "2025-03-01")[0], both("F1", "a", "far", "2025-03-01")[1]]
    first = [rate(f"e{i}", "a", p, f"K{i}", "2025-06-20") for i, p in enumerate(people[:19])]
    # the people a met rate a back on the same day: their ratings are theirs, not a's
    back = [rate(f"b{i}", p, "a", f"K{i}", "2025-06-20") for i, p in enumerate(people[:19])]
    assert _rejects(engine, rows + first + back, catalog) == []
    late = [
        rate("far", "a", "far", "F1", "2025-03-02"),  # another day of the same batch
        rate("e19", "a", people[19], "K19", "2025-06-20"),
        rate("e20", "a", people[20], "K20", "2025-06-20"),
    ]
    report = ingest_rows(engine, late, catalog, source="app", today=TODAY)
    assert [(r.line, r.field) for r in report.rejects] == [(3, "attrs.rater")]
    assert "daily limit" in report.rejects[0].reason


def test_the_daily_limit_holds_in_a_batch_spread_over_many_days(
    engine: Engine, catalog: Catalog
) -> None:
    """A batch whose ratings fall on more days than the count probes one by one (a span is
    read instead) counts the same."""
    people = [f"s{i:02d}" for i in range(20)]
    rows = [row for i, p in enumerate(people) for row in both(f"S{i}", "a", p, "2025-06-20")]
    rows += [rate(f"s{i}", "a", p, f"S{i}", "2025-06-20") for i, p in enumerate(people)]
    assert _rejects(engine, rows, catalog) == []
    spread: list[dict[str, Any]] = []
    for k in range(70):
        day = date.fromordinal(date(2025, 3, 1).toordinal() + k).isoformat()
        spread += [
            *both(f"T{k}", "a", f"t{k:02d}", day),
            rate(f"t{k}", "a", f"t{k:02d}", f"T{k}", day),
        ]
    spread += [*both("U", "a", "u", "2025-06-20"), rate("u", "a", "u", "U", "2025-06-20")]
    assert _rejects(engine, spread, catalog) == [(len(spread), "attrs.rater")]


def test_row_checks_name_the_field(engine: Engine, catalog: Catalog) -> None:
    rows = [
        *both("I1", "a", "b", "2025-06-01"),
        rate("s0", "a", "b", "I1", "2025-06-02", stars=0),
        rate("s6", "a", "b", "I1", "2025-06-02", stars=4.5),
        rate("st", "a", "b", "I1", "2025-06-02", stars=True),
        rate("self", "b", "b", "I1", "2025-06-02"),
        {**rate("nocase", "a", "b", "I1", "2025-06-02"), "case_id": ""},
        {**rate("norater", "a", "b", "I1", "2025-06-02"), "attrs": {"stars": 4}},
        {**meet("nobody", "a", "", "I3", "2025-06-02")},
    ]
    assert _rejects(engine, rows, catalog) == [
        (3, "attrs.stars"),
        (4, "attrs.stars"),
        (5, "attrs.stars"),
        (6, "attrs.rater"),
        (7, "case_id"),
        (8, "attrs.rater"),
        (9, "attrs.counterpart"),
    ]


def test_resending_a_rating_is_a_duplicate_not_a_second_rating(
    engine: Engine, catalog: Catalog
) -> None:
    rows = [*both("I1", "a", "b", "2025-06-01"), rate("r1", "a", "b", "I1", "2025-06-02")]
    first = ingest_rows(engine, rows, catalog, source="app", today=TODAY)
    again = ingest_rows(engine, rows, catalog, source="app", today=TODAY)
    assert (first.accepted, first.rejected) == (3, 0)
    assert (again.accepted, again.duplicates, again.rejected) == (0, 3, 0)


@pytest.mark.parametrize("apart", [False, True], ids=["one-process", "apart"])
def test_a_file_quarantines_bad_ratings_with_reasons(
    engine: Engine, catalog: Catalog, tmp_path: Path, apart: bool
) -> None:
    path = tmp_path / "ratings.jsonl"
    rows = [
        *both("I1", "a", "b", "2025-06-01"),
        rate("r1", "a", "b", "I1", "2025-06-02"),
        rate("r2", "a", "b", "I1", "2025-06-03"),
        rate("r3", "b", "a", "I1", "2025-06-30"),
    ]
    path.write_bytes(b"\n".join(orjson.dumps({**row, "source": "app"}) for row in rows))
    report = ingest_records(engine, path, catalog, batch_size=2, today=TODAY, apart=apart)
    assert (report.accepted, report.rejected) == (3, 2)
    with rejects_path(path).open(encoding="utf-8") as handle:
        quarantined = list(csv.DictReader(handle))
    assert [(q["line"], q["field"]) for q in quarantined] == [
        ("4", "attrs.rater"),
        ("5", "occurred_at"),
    ]
    assert "already rated interaction 'I1'" in quarantined[0]["reason"]
    assert "outside the rating window" in quarantined[1]["reason"]


def test_a_revoked_interaction_admits_no_rating(engine: Engine, catalog: Catalog) -> None:
    from xinyong.ledger.database import WRITE_LOCK
    from xinyong.ledger.effective import EventType
    from xinyong.ledger.lifecycle import append_event

    ingest_rows(engine, both("I1", "a", "b", "2025-06-01"), catalog, source="app", today=TODAY)
    with engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
        append_event(
            conn,
            EventType.REVOKED,
            "app",
            "I1-b",
            effective_on=TODAY,
            actor="op",
            reason="never met",
        )
    assert _rejects(engine, [rate("r1", "a", "b", "I1", "2025-06-02")], catalog) == [(1, "case_id")]
