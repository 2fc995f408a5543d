"""A subject's standing at other dates: the past (a score history) and the future if nothing
new happens (the outlook: when counting records stop counting, and the standing on each of
those days).

Both are the reference evaluator at other as-of dates over the ledger as known now (a fixed log
size), so a revoked record is absent from the history too, and the outlook assumes no record is
added, repaired or revoked. Between two dates of the outlook the set of counting records does not
change; only linear decay moves the score.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Connection

from xinyong.decisions.standing import standing_of
from xinyong.domain.catalog import Catalog
from xinyong.schemes.load import LoadedScheme
from xinyong.scoring.reference import Explanation
from xinyong.scoring.standing import CountedRecord, Standing

__all__ = ["OutlookStep", "month_starts", "outlook", "score_history", "stops_counting_on"]


@dataclass(frozen=True, slots=True)
class OutlookStep:
    """A day on which records stop counting, and the standing from that day on."""

    on: date
    ending: tuple[str, ...]
    """Keys (``source/record_id``) of the records that stop counting that day."""
    standing: Standing


def month_starts(today: date, months: int) -> list[date]:
    """The first day of each of the last ``months`` months, then ``today``."""
    first = today.replace(day=1)
    days = []
    for back in range(months, 0, -1):
        year, month = divmod(first.year * 12 + first.month - 1 - back, 12)
        days.append(date(year, month + 1, 1))
    return [*days, today] if first == today else [*days, first, today]


def score_history(
    conn: Connection,
    loaded: LoadedScheme,
    subject_id: str,
    days: Sequence[date],
    known_at: int,
    catalog: Catalog | None,
) -> list[tuple[date, Standing]]:
    """The subject's standing on each of ``days`` (days the scheme does not score it are left
    out)."""
    found = []
    for day in days:
        explanation = standing_of(conn, loaded, subject_id, day, known_at, catalog).explanation
        if explanation is not None:
            found.append((day, explanation.standing))
    return found


def stops_counting_on(
    counted: CountedRecord, loaded: LoadedScheme, catalog: Catalog | None
) -> date | None:
    """The first day a counting record no longer counts for its rule, if nothing happens: the
    end of the rule's ``valid_for`` or of the code's maximum display period, whichever is
    first (None: it counts for ever)."""
    rule = next(r for r in loaded.scheme.rules if r.id == counted.rule_id)
    periods = [rule.valid_days] if rule.valid_days is not None else []
    entry = catalog.get(counted.record.code) if catalog is not None else None
    if entry is not None:
        periods.append(entry.max_display_days)
    if not periods:
        return None
    return counted.record.occurred_at + timedelta(days=min(periods))


def outlook(
    conn: Connection,
    loaded: LoadedScheme,
    subject_id: str,
    now: Explanation,
    known_at: int,
    catalog: Catalog | None,
) -> list[OutlookStep]:
    """The days after ``now.as_of`` on which a counting record stops counting, with the
    standing on each."""
    ending: dict[date, set[str]] = defaultdict(set)
    for counted in now.records:
        if counted.counted:
            day = stops_counting_on(counted, loaded, catalog)
            if day is not None and day > now.as_of:
                ending[day].add(counted.record.key)
    steps = []
    for day in sorted(ending):
        explanation = standing_of(conn, loaded, subject_id, day, known_at, catalog).explanation
        if explanation is not None:
            steps.append(OutlookStep(day, tuple(sorted(ending[day])), explanation.standing))
    return steps
