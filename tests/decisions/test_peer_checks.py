"""Checks under a peer scheme as ratings arrive: a kept run moved forward incrementally gives
the same answers as a full recomputation, and the updater's refusals fall back to one.

The ledger holds the ``nosedive-gate`` pilot (EigenTrust from three seeds, every safeguard on)
and a town of twelve who met on 2025-05-01; each test adds entries between two checks on the
same day and compares :class:`xinyong.decisions.peer_cache.PeerCache` with a fresh cache.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import Engine, insert

from tests.support.peer_rows import interaction, ledger_rating
from xinyong.decisions.checks import check_measure
from xinyong.decisions.peer_cache import PeerCache
from xinyong.decisions.standing import PEER_CACHE, SchemeRegistry
from xinyong.domain.catalog import Catalog, load_catalog
from xinyong.ingest.records import ingest_rows
from xinyong.ledger.append import read_size
from xinyong.ledger.database import WRITE, WRITE_LOCK, open_database
from xinyong.ledger.effective import EventType
from xinyong.ledger.lifecycle import append_event
from xinyong.ledger.schema import relying_parties
from xinyong.peer.result import PeerScore
from xinyong.pilots import bundled_pilots
from xinyong.schemes.load import load_scheme
from xinyong.scoring.store import add_scheme

DAY = date(2025, 6, 20)
TOWN = [f"town-{i:02d}" for i in range(1, 13)]
PILOT = load_scheme(bundled_pilots()["nosedive-gate"])


class Town:
    """The ledger, and rows added to it as a day goes on."""

    def __init__(self, engine: Engine, catalog: Catalog) -> None:
        self.engine = engine
        self.catalog = catalog
        self.serial = 0
        self.rng = random.Random(5)

    def add(self, rows: list[dict[str, object]]) -> int:
        report = ingest_rows(self.engine, rows, self.catalog, source="app", today=DAY)
        assert report.rejects == []
        with self.engine.connect() as conn:
            return read_size(conn)

    def meeting(
        self, a: str, b: str, day: str, stars: tuple[int | None, int | None]
    ) -> list[dict[str, object]]:
        """An interaction between ``a`` and ``b`` and the ratings each gave (None: none)."""
        self.serial += 1
        case = f"m{self.serial}"
        rows = [
            interaction(f"{case}a", a, b, case, day),
            interaction(f"{case}b", b, a, case, day),
        ]
        for number, (rater, rated, given) in enumerate(((a, b, stars[0]), (b, a, stars[1]))):
            if given is not None:
                rows.append(ledger_rating(f"{case}r{number}", rater, rated, case, day, given))
        return rows

    def ordinary(self, count: int, day: str) -> list[dict[str, object]]:
        rows = []
        for _ in range(count):
            a, b = self.rng.sample(TOWN, 2)
            given = (self.rng.choice([1, 2, 4, 5, 5]), self.rng.choice([1, 4, 5, 5]))
            rows += self.meeting(a, b, day, given)
        return rows


@pytest.fixture
def town(ledger_url: str) -> Iterator[Town]:
    engine = open_database(ledger_url)
    with engine.connect().execution_options(**WRITE) as conn, conn.begin():
        add_scheme(conn, PILOT)
        conn.execute(
            insert(relying_parties).values(
                name="airline",
                measures='["board-flight"]',
                purpose="boarding",
                webhook_url=None,
                created_at="2025-05-01T00:00:00Z",
            )
        )
    town = Town(engine, load_catalog())
    rows: list[dict[str, object]] = []
    for a, b in zip(TOWN, TOWN[1:] + TOWN[:1], strict=True):
        rows += town.meeting(a, b, "2025-05-01", (None, None))
    town.add(rows + town.ordinary(30, "2025-06-15"))
    yield town
    engine.dispose()


def _explain_all(cache: PeerCache, town: Town, known_at: int) -> dict[str, PeerScore]:
    with town.engine.connect() as conn:
        return {
            who: cache.explain(conn, PILOT, who, DAY, known_at, town.catalog)
            for who in [*TOWN, "stranger"]
        }


def _assert_same(got: dict[str, PeerScore], want: dict[str, PeerScore]) -> None:
    for who, expected in want.items():
        mine = got[who]
        # The updates push residuals until none moves a rater weight by the pilot's tolerance
        # (1e-9), in the order of each trust row's entries, so the order decides where that
        # cutoff leaves them: 4.1e-9 from the full run with the rows unsorted, 1.06e-8 sorted
        # (the full runs agree to 1.8e-15 either way), up to 2.6e-8 on random graphs. The bound
        # is a hundred times the tolerance; the scores shown must be equal.
        assert mine.score == pytest.approx(expected.score, abs=1e-7), who
        assert round(mine.score, 2) == round(expected.score, 2), who
        shown = [(r.record, r.rater, r.stars, r.occurred_at, r.reasons) for r in mine.ratings]
        assert shown == [
            (r.record, r.rater, r.stars, r.occurred_at, r.reasons) for r in expected.ratings
        ]
        for a, b in zip(mine.ratings, expected.ratings, strict=True):
            assert a.weight == pytest.approx(b.weight, rel=1e-6, abs=1e-9)


def test_new_ratings_move_the_kept_run_forward(town: Town) -> None:
    cache = PeerCache()
    before = town.add(town.ordinary(5, "2025-06-19"))
    _explain_all(cache, town, before)
    assert (cache.full, cache.incremental) == (1, 0)
    sizes = [before]
    for day in ("2025-06-19", "2025-06-20", "2025-06-20"):
        rows = town.ordinary(4, day)
        # A reply to a low rating within the window: presumed retaliation, decided as it comes.
        rows += town.meeting("town-04", "town-05", day, (1, None))
        rows += town.meeting("town-05", "town-04", day, (1, None))
        sizes.append(town.add(rows))
        got = _explain_all(cache, town, sizes[-1])
        assert (cache.full, cache.incremental) == (1, len(sizes) - 1)
        _assert_same(got, _explain_all(PeerCache(), town, sizes[-1]))
    replies = [
        r
        for r in got["town-04"].ratings
        if r.rater == "town-05" and r.stars == 1 and r.occurred_at >= date(2025, 6, 19)
    ]
    assert len(replies) >= 3
    assert all(any(x.startswith("retaliation") for x in r.reasons) for r in replies)
    # A question about an earlier checkpoint than the kept run's gets a full run of its own.
    earlier = _explain_all(cache, town, sizes[1])
    assert cache.full == 2
    _assert_same(earlier, _explain_all(PeerCache(), town, sizes[1]))


@pytest.mark.parametrize("change", ["new person", "revoked rating", "first interaction moves"])
def test_what_the_updater_cannot_take_is_recomputed(town: Town, change: str) -> None:
    cache = PeerCache()
    before = town.add(town.ordinary(3, "2025-06-19"))
    _explain_all(cache, town, before)
    if change == "new person":
        after = town.add(town.meeting("town-01", "newcomer", "2025-06-20", (5, 5)))
    elif change == "revoked rating":
        with town.engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
            append_event(
                conn,
                EventType.REVOKED,
                "app",
                "m20r0",
                effective_on=DAY,
                actor="op",
                reason="upheld objection",
            )
            after = read_size(conn)
    else:
        # An earlier meeting of town-02, furnished late: its first interaction moves back,
        # which under new-account damping may change the flags of every rating it gave.
        after = town.add(town.meeting("town-02", "town-03", "2025-04-01", (None, None)))
    got = _explain_all(cache, town, after)
    assert (cache.full, cache.incremental) == (2, 0)
    _assert_same(got, _explain_all(PeerCache(), town, after))


def test_checks_answer_alike_either_way(town: Town) -> None:
    registry = SchemeRegistry()

    def answers() -> dict[str, bool]:
        with town.engine.begin() as conn:
            return {
                who: check_measure(
                    conn, registry, "airline", who, "board-flight", DAY, town.catalog
                ).applies
                for who in TOWN
            }

    PEER_CACHE.clear()
    answers()
    for _ in range(3):
        town.add(town.ordinary(6, "2025-06-20"))
        moved = PEER_CACHE.incremental
        incremental = answers()
        assert PEER_CACHE.incremental > moved
        PEER_CACHE.clear()
        assert answers() == incremental
