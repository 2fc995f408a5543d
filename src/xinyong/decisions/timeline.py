"""A subject's standing at other dates: the past (a score history) and the future if nothing
new happens (the outlook: when counting records, and ratings the subject received, stop
counting, and the standing on each of those days).

Both are the reference evaluator at other as-of dates over the ledger as known now (a fixed log
size), so a revoked record is absent from the history too, and the outlook assumes no record is
added, repaired or revoked. Between two dates of the outlook the subject's counting records and
ratings do not change; linear decay moves the score, and under a peer score so do other people's
ratings expiring (they change what raters weigh). All dates are computed together
(:func:`~xinyong.decisions.standing.standings_on`: one read of the rating records for the
series).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Connection

from xinyong.decisions.standing import standings_on
from xinyong.domain.catalog import Catalog
from xinyong.domain.peer_records import RATING
from xinyong.peer.result import RatingEffect
from xinyong.schemes.load import LoadedScheme
from xinyong.schemes.model import PeerSection
from xinyong.scoring.reference import Explanation
from xinyong.scoring.standing import CountedRecord, Standing

__all__ = [
    "OutlookStep",
    "history_and_outlook",
    "month_starts",
    "outlook",
    "rating_stops_counting_on",
    "stops_counting_on",
]


@dataclass(frozen=True, slots=True)
class OutlookStep:
    """A day on which records stop counting, and the standing from that day on."""

    on: date
    ending: tuple[str, ...]
    """Keys (``source/record_id``) of the records and ratings that stop counting that day."""
    standing: Standing


def month_starts(today: date, months: int) -> list[date]:
    """The first day of each of the last ``months`` months, then ``today``."""
    first = today.replace(day=1)
    days = []
    for back in range(months, 0, -1):
        year, month = divmod(first.year * 12 + first.month - 1 - back, 12)
        days.append(date(year, month + 1, 1))
    return [*days, today] if first == today else [*days, first, today]


def stops_counting_on(counted: CountedRecord, catalog: Catalog | None) -> date | None:
    """The first day a counting record no longer counts for its rule, if nothing happens: the
    end of the rule's ``valid_for`` or of the code's maximum display period, whichever is
    first (None: it counts for ever)."""
    occurred = counted.record.occurred_at
    ends = [counted.ends_on] if counted.ends_on is not None else []
    entry = catalog.get(counted.record.code) if catalog is not None else None
    if entry is not None:
        ends.append(occurred + timedelta(days=entry.max_display_days))
    return min(ends, default=None)


def rating_stops_counting_on(
    rating: RatingEffect, section: PeerSection, catalog: Catalog | None
) -> date | None:
    """The first day a rating no longer counts for the peer score, if nothing happens: the end
    of the section's ``valid_for`` or of the rating code's display period, whichever is first
    (None: it counts for ever)."""
    periods = [section.valid_days] if section.valid_days is not None else []
    entry = catalog.get(RATING) if catalog is not None else None
    if entry is not None:
        periods.append(entry.max_display_days)
    if not periods:
        return None
    return rating.occurred_at + timedelta(days=min(periods))


def _ending(
    now: Explanation, loaded: LoadedScheme, catalog: Catalog | None
) -> dict[date, set[str]]:
    """The days after ``now.as_of`` on which counting records or ratings stop counting."""
    ending: dict[date, set[str]] = defaultdict(set)
    for counted in now.records:
        if counted.counted:
            day = stops_counting_on(counted, catalog)
            if day is not None and day > now.as_of:
                ending[day].add(counted.record.key)
    section = loaded.scheme.peer
    if now.peer is not None and section is not None:
        for rating in now.peer.ratings:
            day = rating_stops_counting_on(rating, section, catalog)
            if day is not None and day > now.as_of:
                ending[day].add(rating.record)
    return ending


def history_and_outlook(
    conn: Connection,
    loaded: LoadedScheme,
    subject_id: str,
    now: Explanation,
    history_days: Sequence[date],
    known_at: int,
    catalog: Catalog | None,
) -> tuple[list[tuple[date, Standing]], list[OutlookStep]]:
    """The standing on each of ``history_days`` (days the scheme does not score the subject are
    left out), and the outlook after ``now``: the days a counting record or rating stops
    counting, with the standing on each."""
    ending = _ending(now, loaded, catalog)
    days = sorted({*history_days, *ending})
    found = {
        day: standing.explanation.standing
        for day, standing in standings_on(conn, loaded, subject_id, days, known_at, catalog)
        if standing.explanation is not None
    }
    history = [(day, found[day]) for day in history_days if day in found]
    steps = [
        OutlookStep(day, tuple(sorted(ending[day])), found[day])
        for day in sorted(ending)
        if day in found
    ]
    return history, steps


def outlook(
    conn: Connection,
    loaded: LoadedScheme,
    subject_id: str,
    now: Explanation,
    known_at: int,
    catalog: Catalog | None,
) -> list[OutlookStep]:
    """The days after ``now.as_of`` on which a counting record or rating stops counting, with
    the standing on each."""
    return history_and_outlook(conn, loaded, subject_id, now, (), known_at, catalog)[1]
