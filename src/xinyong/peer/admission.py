"""Admitting rating records at ingest: the checks that need other records.

A rating (``peer.rating``, about the rated person, naming ``attrs.rater``) is accepted only:

1. for an interaction both parties took part in: the ledger (or the same batch, earlier) holds
   the rater's ``peer.interaction`` record with the rating's ``case_id`` naming the rated
   person as counterpart, and the rated person's naming the rater;
2. on the interaction's day or at most ``rating_window`` days after it (the date on the rater's
   interaction record);
3. once per rater and interaction;
4. while the rater has given fewer than ``daily_ratings`` ratings that day.

File ingest and the source API both go through :func:`xinyong.ingest.records._append`, which
runs these checks inside the write lock, after duplicates are set aside (re-sending a rating
that is already in the ledger is a duplicate, not a second rating), so two concurrent batches
cannot both take the last rating of a day.

Every lookup probes an index of peer records (:mod:`xinyong.ledger.peer_index`): the
interactions and earlier ratings of an interaction by its id; a rater's ratings of a day (filed
under the people it rated) by rater and day; never by scanning a person's records.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson
from sqlalchemy import Connection, exists, select

from xinyong.domain.catalog import RatingPolicy
from xinyong.domain.chunks import IN_CHUNK, chunked
from xinyong.domain.peer_records import INTERACTION, RATING
from xinyong.domain.row_problem import RowProblem
from xinyong.ledger.append import RecordRow
from xinyong.ledger.effective import VOIDING
from xinyong.ledger.peer_index import IS_PEER, ratings_given
from xinyong.ledger.schema import events, records

__all__ = ["RatingAdmission"]


@dataclass(frozen=True, slots=True)
class _Interaction:
    counterpart: str
    occurred_at: date


def _attrs(row: RecordRow) -> dict[str, Any]:
    parsed = orjson.loads(str(row[7]))
    return parsed if isinstance(parsed, dict) else {}


class RatingAdmission:
    """The cross-record checks for one batch of new rows, in the batch's order.

    Built inside the write lock with the rows about to be appended; it prefetches, per chunk
    of subject ids, the interactions and ratings the checks need, then :meth:`check` decides
    row by row and remembers what it admitted, so a rating may follow its interaction in the
    same file.
    """

    def __init__(self, conn: Connection, policy: RatingPolicy, rows: Sequence[RecordRow]):
        self.policy = policy
        self.interactions: dict[tuple[str, str], _Interaction] = {}
        self.rated: set[tuple[str, str]] = set()
        self.daily: Counter[tuple[str, date]] = Counter()
        ratings = [(row, _attrs(row)) for row in rows if row[4] == RATING]
        if ratings:
            self._prefetch(conn, ratings)

    def _prefetch(self, conn: Connection, ratings: list[tuple[RecordRow, dict[str, Any]]]) -> None:
        r, e = records.c, events.c
        voided = exists().where(
            e.source == r.source, e.record_id == r.record_id, e.event_type.in_(VOIDING)
        )
        # The interactions and earlier ratings of the batch's interaction ids, a few hundred
        # ratings at a time, through the index of peer records by interaction id (IS_PEER
        # repeats its predicate); the people are kept in Python, since a condition on them lets
        # PostgreSQL add the subject index to the plan and read every record of every one.
        for part in chunked(ratings, IN_CHUNK // 2):
            people = {str(a["rater"]) for _, a in part} | {str(row[2]) for row, _ in part}
            cases = sorted({str(row[6]) for row, _ in part})
            met = select(r.subject_id, r.case_id, r.attrs, r.occurred_at).where(
                IS_PEER, r.code == INTERACTION, r.case_id.in_(cases), ~voided
            )
            for hit in conn.execute(met):
                counterpart = orjson.loads(hit.attrs).get("counterpart")
                if hit.subject_id in people and isinstance(counterpart, str):
                    self.interactions[(hit.subject_id, hit.case_id)] = _Interaction(
                        counterpart, hit.occurred_at
                    )
            rated = {str(row[2]) for row, _ in part}
            given = select(r.subject_id, r.case_id, r.attrs).where(
                IS_PEER, r.code == RATING, r.case_id.in_(cases)
            )
            for found in conn.execute(given):
                rater = orjson.loads(found.attrs).get("rater")
                if found.subject_id in rated and isinstance(rater, str):
                    self.rated.add((rater, found.case_id))
        # the ratings the raters have already given on the days they rate in the batch
        self.daily.update(ratings_given(conn, ((str(a["rater"]), row[5]) for row, a in ratings)))

    def check(self, row: RecordRow) -> RowProblem | None:
        """Admit one row (and remember it) or say which field is at fault."""
        subject, code, day, case = str(row[2]), row[4], row[5], str(row[6])
        assert isinstance(day, date)
        if code == INTERACTION:
            counterpart = str(_attrs(row)["counterpart"])
            self.interactions[(subject, case)] = _Interaction(counterpart, day)
            return None
        if code != RATING:
            return None
        rater = str(_attrs(row)["rater"])
        problem = self._rating_problem(rater, subject, day, case)
        if problem is None:
            self.rated.add((rater, case))
            self.daily[(rater, day)] += 1
        return problem

    def _rating_problem(self, rater: str, subject: str, day: date, case: str) -> RowProblem | None:
        """What the rules above say against a rating of ``subject`` by ``rater``."""
        own = self.interactions.get((rater, case))
        theirs = self.interactions.get((subject, case))
        window = self.policy.rating_window_days
        if (
            own is None
            or own.counterpart != subject
            or theirs is None
            or theirs.counterpart != rater
        ):
            return RowProblem(
                "case_id",
                f"no interaction {case!r} between rater {rater!r} and {subject!r}: both "
                "parties' peer.interaction records must be in the ledger",
            )
        if day < own.occurred_at or (day - own.occurred_at).days > window:
            return RowProblem(
                "occurred_at",
                f"{day} is outside the rating window of interaction {case!r} "
                f"({own.occurred_at} to {window} days after it)",
            )
        if (rater, case) in self.rated:
            return RowProblem(
                "attrs.rater", f"rater {rater!r} has already rated interaction {case!r}"
            )
        if self.daily[(rater, day)] >= self.policy.daily_ratings:
            return RowProblem(
                "attrs.rater",
                f"rater {rater!r} already gave {self.policy.daily_ratings} ratings on {day}, "
                "the daily limit",
            )
        return None
