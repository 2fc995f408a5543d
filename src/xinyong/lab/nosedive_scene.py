"""The airport scene of "Nosedive", played on a small synthetic society through the real ledger.

Two hundred townspeople and Lacie meet every day (each starts one interaction a day, Lacie
three: she works at being liked); after every interaction each party rates the other through the
source API's path (:func:`xinyong.ingest.records.ingest_rows`), so every rating passes the
admission checks. How people rate follows one rule from the show: a person whose score shows
under 4.2 is rated by that score rather than by what they did (``stars = floor(score - 0.2)``,
at least 1), and everyone else gets 4 or 5 stars. Then comes Lacie's bad day: twelve quarrels.
In nine of them she loses her temper and rates the other person 1 star first, and they rate her
1 star back the same day; in the other three the other person rates her 1 star unprovoked.
Every day the airline checks the ``board-flight`` measure for her
(:func:`xinyong.decisions.checks.check_measure`: logged, purpose-bound, replayable). Rating
records are named by opaque ids: a record id that named the interaction or the rater would tell
the rated person who rated them (``docs/schemes.md`` section 10).

The scene runs twice with the same seed: under the show's mechanism (the pilot with its
``[peer]`` table replaced by ``nosedive``, no smoothing and no safeguards) and under the
bundled ``nosedive-gate`` pilot (EigenTrust, Bayesian smoothing, safeguards). Under the first,
the bad day pushes Lacie under 4.2, the rule above takes over and her score keeps falling: the
gate flips from yes to no. Under the second, the nine replies to her own 1-star ratings are
presumed retaliation and ignored (her ratings, given first, stand), the three unprovoked ones
count but are smoothed with the rest, and the gate stays open.
"""

from __future__ import annotations

import random
import tempfile
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import Engine, insert

from xinyong.decisions.checks import check_measure
from xinyong.decisions.standing import SchemeRegistry, peer_scores_of, standing_of
from xinyong.domain.catalog import Catalog
from xinyong.domain.peer_records import INTERACTION, RATING
from xinyong.ingest.records import ingest_rows
from xinyong.ledger.append import read_size
from xinyong.ledger.database import WRITE_LOCK, open_database
from xinyong.ledger.operations import log_rows
from xinyong.ledger.schema import relying_parties
from xinyong.peer.result import PeerScore
from xinyong.pilots import bundled_pilots
from xinyong.schemes.lint import lint
from xinyong.schemes.load import LoadedScheme, load_scheme, parse_scheme
from xinyong.schemes.overrides import Override, guardrail_findings, make_override
from xinyong.scoring.store import add_scheme

__all__ = [
    "AIRLINE",
    "GATE",
    "LACIE",
    "SceneDay",
    "SceneRun",
    "nosedive_variant",
    "play_scene",
]

LACIE = "lacie"
AIRLINE = "airline"
GATE = "board-flight"
START = date(2025, 5, 1)
HISTORY_DAYS = 14
"""Ordinary days before the bad day."""
AFTER_DAYS = 10
"""Days played after the bad day."""
QUARRELS = 12
PROVOKED = 9
"""Quarrels in which Lacie rates the other person 1 star first and is rated 1 star back."""
TOWN = 200
LACIE_MEETINGS = 3
_SHOW_PEER = """[peer]
algorithm = "nosedive"
weight = 1
valid_for = "30d"
prior = 4.3
tolerance = 1e-9
max_iterations = 500
"""


@dataclass(frozen=True, slots=True)
class SceneDay:
    """One day of the scene as the airline and Lacie see it."""

    day: date
    score: float
    boards: bool
    low_ratings: int
    """Ratings of 1 or 2 stars Lacie received that day."""


@dataclass(frozen=True, slots=True)
class SceneRun:
    """The scene under one scheme."""

    loaded: LoadedScheme
    days: tuple[SceneDay, ...]
    bad_day: date
    explanation: PeerScore
    """Lacie's peer score on the bad day, with every rating and discount."""
    decision_id: str
    """The airline's check on the bad day."""

    @property
    def flipped_on(self) -> date | None:
        """The first day the gate said no, if it did."""
        return next((d.day for d in self.days if not d.boards), None)


def nosedive_variant(pilot: LoadedScheme) -> LoadedScheme:
    """The pilot under the show's own mechanism: its ``[peer]`` tables replaced by nosedive."""
    text = pilot.text
    head = text[: text.index("[peer]")].replace('id = "nosedive-gate"', 'id = "nosedive-show"')
    return parse_scheme(head + _SHOW_PEER, Path("nosedive-show.toml"))


def _rating(
    rid: str, rater: str, rated: str, case: str, day: date, stars: int
) -> dict[str, object]:
    return {
        "record_id": rid,
        "subject_id": rated,
        "subject_kind": "person",
        "code": RATING,
        "occurred_at": day.isoformat(),
        "case_id": case,
        "attrs": {"rater": rater, "stars": stars},
    }


def _interaction(rid: str, who: str, other: str, case: str, day: date) -> dict[str, object]:
    return {
        "record_id": rid,
        "subject_id": who,
        "subject_kind": "person",
        "code": INTERACTION,
        "occurred_at": day.isoformat(),
        "case_id": case,
        "attrs": {"counterpart": other},
    }


def _stars(rng: random.Random, shown: float) -> int:
    """How the society rates someone whose score shows ``shown``."""
    if shown < 4.2:
        return max(1, int(shown - 0.2))
    return 5 if rng.random() < 0.6 else 4


class _Society:
    def __init__(self, engine: Engine, loaded: LoadedScheme, catalog: Catalog, seed: int):
        self.engine = engine
        self.loaded = loaded
        self.catalog = catalog
        self.rng = random.Random(seed)
        self.people = [f"town-{i:02d}" for i in range(1, TOWN + 1)] + [LACIE]
        self.serial = 0
        self.ids = random.Random(f"rating-ids-{seed}")
        self.registry = SchemeRegistry()

    def shown(self, day: date) -> dict[str, float]:
        with self.engine.connect() as conn:
            scores = peer_scores_of(conn, self.loaded, day, read_size(conn), self.catalog)
            return {person: scores.score_of(person) for person in self.people}

    def meet(self, rows: list[dict[str, object]], a: str, b: str, day: date) -> str:
        self.serial += 1
        case = f"m{self.serial}"
        rows.append(_interaction(f"{case}-{a}", a, b, case, day))
        rows.append(_interaction(f"{case}-{b}", b, a, case, day))
        return case

    def rate(
        self,
        rows: list[dict[str, object]],
        case: str,
        rater: str,
        rated: str,
        day: date,
        stars: int,
    ) -> None:
        rid = f"rating-{self.ids.getrandbits(64):016x}"
        rows.append(_rating(rid, rater, rated, case, day, stars))

    def submit(self, rows: list[dict[str, object]], day: date) -> None:
        report = ingest_rows(
            self.engine, rows, self.catalog, source="town-app", today=day, note="scene"
        )
        if report.rejects:
            first = report.rejects[0]
            raise RuntimeError(f"the scene's own rows were rejected: {first.field}: {first.reason}")

    def ordinary_day(self, day: date, rows: list[dict[str, object]]) -> None:
        shown = self.shown(day - timedelta(days=1))
        for person in self.people:
            count = LACIE_MEETINGS if person == LACIE else 1
            for other in self.rng.sample([p for p in self.people if p != person], count):
                case = self.meet(rows, person, other, day)
                self.rate(rows, case, person, other, day, _stars(self.rng, shown[other]))
                self.rate(rows, case, other, person, day, _stars(self.rng, shown[person]))

    def bad_day(self, day: date, rows: list[dict[str, object]]) -> None:
        quarrelers = self.rng.sample(self.people[3:-1], QUARRELS)
        for number, other in enumerate(quarrelers):
            case = self.meet(rows, LACIE, other, day)
            if number < PROVOKED:
                self.rate(rows, case, LACIE, other, day, 1)  # first: it stands
            self.rate(rows, case, other, LACIE, day, 1)

    def check(self, day: date) -> tuple[SceneDay, str, PeerScore]:
        with self.engine.begin() as conn:
            decision = check_measure(conn, self.registry, AIRLINE, LACIE, GATE, day, self.catalog)
        with self.engine.connect() as conn:
            standing = standing_of(conn, self.loaded, LACIE, day, read_size(conn), self.catalog)
        assert standing.explanation is not None
        assert standing.explanation.peer is not None
        peer = standing.explanation.peer
        low = sum(1 for r in peer.ratings if r.age_days == 0 and r.stars <= 2)
        return SceneDay(day, peer.score, decision.applies, low), decision.decision_id, peer


def _lab_overrides(loaded: LoadedScheme, catalog: Catalog) -> list[Override]:
    """The lab's overrides of a variant's guardrail findings (the show's mechanism weights raters
    by status on purpose): recorded in the scene's own throwaway ledger like any other."""
    return [
        make_override(
            finding.ref, "the lab reproduces this design to measure what it does", "xinyong lab"
        )
        for finding in guardrail_findings(lint(loaded, catalog))
    ]


def _play(loaded: LoadedScheme, catalog: Catalog, seed: int, folder: Path) -> SceneRun:
    engine = open_database(f"sqlite:///{folder / (loaded.scheme.id + '.db')}")
    try:
        with engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
            add_scheme(conn, loaded, catalog=catalog, overrides=_lab_overrides(loaded, catalog))
            conn.execute(
                insert(relying_parties).values(
                    name=AIRLINE,
                    measures=f'["{GATE}"]',
                    purpose="boarding a flight",
                    webhook_url=None,
                    created_at="2025-05-01T00:00:00Z",
                )
            )
            log_rows(conn, relying_parties, relying_parties.c.name == AIRLINE)
        society = _Society(engine, loaded, catalog, seed)
        days: list[SceneDay] = []
        decision_id = ""
        explanation: PeerScore | None = None
        bad_day = START + timedelta(days=HISTORY_DAYS)
        for offset in range(HISTORY_DAYS + 1 + AFTER_DAYS):
            day = START + timedelta(days=offset)
            rows: list[dict[str, object]] = []
            society.ordinary_day(day, rows)
            if day == bad_day:
                society.bad_day(day, rows)
            society.submit(rows, day)
            if day >= bad_day - timedelta(days=2):
                today, checked, peer = society.check(day)
                days.append(today)
                if day == bad_day:
                    decision_id, explanation = checked, peer
        assert explanation is not None
        return SceneRun(loaded, tuple(days), bad_day, explanation, decision_id)
    finally:
        engine.dispose()


def play_scene(catalog: Catalog, seed: int = 7) -> tuple[SceneRun, SceneRun]:
    """The scene under the show's mechanism, then under the ``nosedive-gate`` pilot."""
    pilot = load_scheme(bundled_pilots()["nosedive-gate"])
    with tempfile.TemporaryDirectory(prefix="xinyong-nosedive-") as folder:
        show = _play(nosedive_variant(pilot), catalog, seed, Path(folder))
        safeguarded = _play(pilot, catalog, seed, Path(folder))
    return show, safeguarded
