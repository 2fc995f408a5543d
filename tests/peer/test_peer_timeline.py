"""The rating graph of many dates from one read: the same graph as reading each date alone.

:class:`xinyong.peer.timeline.PeerTimeline` selects each date's ratings with array operations
from records read once with their spans in force; it must give exactly the graph that
:meth:`RatingGraph.of` builds from :func:`considered_ratings` over the records in force that
day, in memory (hypothesis) and from the ledger (:func:`peer_spans` against
the effective records of each date).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.peer_strategies import AS_OF, KINDS, PEOPLE, met, rating, sections
from xinyong.domain.catalog import load_catalog
from xinyong.domain.peer_records import PEER_CODES
from xinyong.domain.records import RecordSpan
from xinyong.ingest.records import ingest_rows
from xinyong.ledger.append import read_size
from xinyong.ledger.database import WRITE_LOCK, open_database
from xinyong.ledger.effective import EventType
from xinyong.ledger.lifecycle import append_event
from xinyong.peer.algorithms import compute_peer_scores
from xinyong.peer.graph import RatingGraph, graph_from_table
from xinyong.peer.ratings import SeedsAbsent, considered_ratings
from xinyong.peer.timeline import PeerTimeline
from xinyong.schemes.model import PeerSection
from xinyong.scoring.ledger_source import effective_table, peer_spans


def assert_same_graph(got: RatingGraph, want: RatingGraph) -> None:
    assert list(got.nodes) == list(want.nodes)
    assert list(got.keys) == list(want.keys)
    assert got.as_of_day == want.as_of_day
    for name in ("rater", "rated", "stars", "day", "decay", "first_day", "seeds"):
        mine, theirs = getattr(got, name), getattr(want, name)
        assert mine.dtype == theirs.dtype, name
        assert mine.tolist() == theirs.tolist(), name


@st.composite
def spans(draw: st.DrawFn) -> list[RecordSpan]:
    found = []
    for _ in range(draw(st.integers(0, 12))):
        who = draw(st.sampled_from(PEOPLE))
        record = met(who, (AS_OF - timedelta(days=draw(st.integers(-5, 60)))).isoformat())
        found.append(record)
    for _ in range(draw(st.integers(0, 40))):
        rater = draw(st.sampled_from([*PEOPLE, ""]))
        rated = draw(st.sampled_from(PEOPLE))
        day = AS_OF - timedelta(days=draw(st.integers(-5, 60)))
        stars = draw(st.sampled_from([1, 2, 3, 4, 5, 5, 6]))
        record = rating(rater, rated, stars, day.isoformat())
        if draw(st.booleans()):
            record = replace(record, subject_kind="organization")
        found.append(record)
    result = []
    for record in found:
        stops = None
        if draw(st.booleans()):
            stops = record.occurred_at + timedelta(days=draw(st.integers(0, 40)))
        result.append(RecordSpan(record, stops))
    return result


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(peer=sections(), found=spans(), back=st.lists(st.integers(-3, 50), max_size=5))
def test_the_graph_of_a_date_is_the_graph_of_the_records_in_force(
    peer: PeerSection, found: list[RecordSpan], back: list[int]
) -> None:
    timeline = PeerTimeline(peer, KINDS, found)
    for days in back:
        day = AS_OF - timedelta(days=days)
        in_force = [s.record for s in found if s.stops is None or day < s.stops]
        try:
            want = RatingGraph.of(peer, considered_ratings(peer, in_force, KINDS, day))
        except SeedsAbsent:  # the timeline refuses the same dates
            with pytest.raises(SeedsAbsent):
                timeline.graph_at(day)
            continue
        got = timeline.graph_at(day)
        assert_same_graph(got, want)
        mine, theirs = compute_peer_scores(peer, got), compute_peer_scores(peer, want)
        assert mine.score.tolist() == theirs.score.tolist()


def _row(
    rid: str, code: str, who: str, other: str, day: date, **attrs: object
) -> dict[str, object]:
    key = "counterpart" if code == "peer.interaction" else "rater"
    return {
        "record_id": rid,
        "subject_id": who,
        "subject_kind": "person",
        "code": code,
        "occurred_at": day.isoformat(),
        "case_id": f"case-{rid[1:-1]}",
        "attrs": {key: other, **attrs},
    }


def test_the_ledger_read_once_gives_every_dates_graph(tmp_path: Path) -> None:
    # Interactions and ratings over four months, one rating revoked, one repaired from a date,
    # and the catalog's display period of a year cutting the oldest off.
    engine = open_database(f"sqlite:///{tmp_path / 'ledger.db'}")
    catalog = load_catalog()
    start = date(2024, 3, 1)
    rows: list[dict[str, object]] = []
    for number in range(40):
        day = start + timedelta(days=number * 10)
        a, b = PEOPLE[number % 5], PEOPLE[(number * 3 + 1) % 5]
        if a == b:
            continue
        rows.append(_row(f"i{number}a", "peer.interaction", a, b, day))
        rows.append(_row(f"i{number}b", "peer.interaction", b, a, day))
        rows.append(_row(f"r{number}a", "peer.rating", b, a, day, stars=1 + number % 5))
        rows.append(_row(f"r{number}b", "peer.rating", a, b, day, stars=5 - number % 3))
    today = start + timedelta(days=400)
    report = ingest_rows(engine, rows, catalog, source="app", today=today)
    assert report.rejects == []
    with engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
        for record, kind, on in (
            ("r20a", EventType.REVOKED, today),
            ("r30b", EventType.REPAIRED, start + timedelta(days=320)),
        ):
            append_event(conn, kind, "app", record, effective_on=on, actor="op", reason="test")
    peer = PeerSection(algorithm="bayesian", valid_for="90d", min_ratings=1)
    days = [start + timedelta(days=n) for n in (-1, 0, 95, 300, 305, 330, 390, 420, 500)]
    with engine.connect() as conn:
        known_at = read_size(conn)
        timeline = PeerTimeline(
            peer, KINDS, peer_spans(conn, min(days), max(days), known_at, catalog)
        )
        for day in days:
            table = effective_table(conn, day, known_at, catalog, PEER_CODES)
            want = graph_from_table(peer, table, KINDS, day)
            assert_same_graph(timeline.graph_at(day), want)
        counting = timeline.graph_at(start + timedelta(days=330))
        assert "app/r30b" not in counting.keys  # repaired from day 320
        assert "app/r20a" not in timeline.graph_at(start + timedelta(days=200)).keys  # revoked
        assert np.all(counting.day > counting.as_of_day - 90)
    engine.dispose()
