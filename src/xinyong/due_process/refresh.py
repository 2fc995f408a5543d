"""Keeping a subject current after anything changes its records.

Each ledger event about a subject (records submitted, an objection decided or lapsed, a repair
approved) refreshes the subjects it touched: :func:`plan_refresh` recomputes each one's standing
under every active scheme (reads only), and :func:`apply_refresh` opens or closes list entries
(with notices) and queues corrections for the relying parties whose recent answers changed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import orjson
from sqlalchemy import Connection, select, text

from xinyong.decisions.checks import Registrations
from xinyong.decisions.notices import adverse_facts
from xinyong.decisions.standing import SchemeRegistry, SubjectStanding, standings_of_many
from xinyong.domain.catalog import Catalog
from xinyong.domain.chunks import chunked
from xinyong.due_process.corrections import (
    Correction,
    correction_window_start,
    plan_corrections,
    queue_correction,
)
from xinyong.due_process.disclosure import update_listings
from xinyong.ledger.append import read_head, read_size
from xinyong.ledger.schema import inquiries, listings
from xinyong.schemes.load import LoadedScheme
from xinyong.scoring.ledger_run import score_ledger_all
from xinyong.scoring.reference import Explanation
from xinyong.scoring.run import Engine, standings_from_table
from xinyong.scoring.standing import Standing
from xinyong.scoring.store import save_standings

__all__ = ["RefreshPlan", "apply_refresh", "plan_refresh", "refresh_all"]

log = logging.getLogger("xinyong.refresh")

_PLAN_SECONDS = 3600.0
"""How long a plan may keep what it read of the relying parties' registrations: for the whole
plan. A registration changed while a plan is worked out (milliseconds) is seen at the next
change, as one changed between the plan and its writing always was (registrations are changed
under a lock of their own, not the ledger's), and it saves a statement per check decided again
(docs/benchmarks.md, "Checks"). A withdrawn party keeps its registration, and its
corrections, by design (:mod:`xinyong.application.relying`)."""


@dataclass(frozen=True, slots=True)
class RefreshPlan:
    """What a refresh must write, worked out from the ledger at log size ``size``."""

    size: int
    relist: list[tuple[LoadedScheme, str, Explanation | None]]
    """Subjects whose list memberships changed, with their new explanation, per scheme."""
    corrections: list[Correction]
    """Recent answers to relying parties that are now different (to log and push)."""

    @property
    def empty(self) -> bool:
        """Nothing to write."""
        return not self.relist and not self.corrections


def plan_refresh(
    conn: Connection,
    registry: SchemeRegistry,
    subject_ids: Iterable[str],
    today: date,
    catalog: Catalog | None,
    correction_window_days: int = 90,
) -> RefreshPlan:
    """Work out a refresh (reads only, so it can run outside the write lock).

    The open listings and the recent checks of all the subjects are read with a few ``IN``
    queries; the recent answers of the subjects checked in the window are decided again. Only
    changed lists and changed answers need any writing.
    """
    ids = sorted(set(subject_ids))
    size = read_size(conn)
    relist: list[tuple[LoadedScheme, str, Explanation | None]] = []
    known: dict[tuple[str, str, date, int], dict[str, SubjectStanding]] = {}
    registered = Registrations(_PLAN_SECONDS)  # each party's registration read once per plan
    for loaded in registry.active(conn):
        listed = _open_lists(conn, loaded.scheme.id, ids)
        found = standings_of_many(conn, loaded, ids, today, size, catalog)
        known[loaded.scheme.id, loaded.version, today, size] = found
        for subject_id in ids:
            explanation = found[subject_id].explanation
            now_on = set(explanation.standing.lists) if explanation is not None else set()
            if now_on != listed.get(subject_id, set()):
                relist.append((loaded, subject_id, explanation))
    corrections = [
        correction
        for subject_id in _recently_checked(conn, ids, correction_window_days)
        for correction in plan_corrections(
            conn, registry, subject_id, today, catalog, correction_window_days, known, registered
        )
    ]
    return RefreshPlan(size, relist, corrections)


def apply_refresh(
    conn: Connection, plan: RefreshPlan, today: date, *, grace_days: int = 30
) -> list[str]:
    """Write a planned refresh (inside the write lock, with the ledger still at the plan's
    size); return the queued correction ids."""
    for loaded, subject_id, explanation in plan.relist:
        update_listings(conn, loaded, subject_id, explanation, today, grace_days)
    return [queue_correction(conn, correction) for correction in plan.corrections]


def _open_lists(conn: Connection, scheme_id: str, ids: list[str]) -> dict[str, set[str]]:
    listed: dict[str, set[str]] = {}
    for chunk in chunked(ids):
        for row in conn.execute(
            select(listings.c.subject_id, listings.c.list_id).where(
                listings.c.scheme_id == scheme_id,
                listings.c.subject_id.in_(chunk),
                listings.c.delisted_on.is_(None),
            )
        ):
            listed.setdefault(str(row.subject_id), set()).add(str(row.list_id))
    return listed


_CHECKED_PG = text(
    "SELECT s.id FROM unnest(CAST(:ids AS varchar[])) AS s(id) WHERE EXISTS ("
    "SELECT 1 FROM inquiries q WHERE q.subject_id = s.id AND q.made_at >= :since)"
)
"""PostgreSQL: one indexed probe per subject, a plan that does not depend on the inquiry log's
statistics. As one ``IN`` list it scanned the whole log when they were stale (a log grown since
the last ``ANALYZE``, a server without autovacuum): 124 ms per batch of 100 subjects, 4 ms so."""


def _recently_checked(conn: Connection, ids: list[str], window_days: int) -> list[str]:
    """The subjects among ``ids`` checked in the window."""
    since = correction_window_start(window_days)
    found: set[str] = set()
    for chunk in chunked(ids):
        if conn.dialect.name == "postgresql":
            rows = conn.execute(_CHECKED_PG, {"ids": list(chunk), "since": since})
        else:  # SQLite plans the IN list on the index whatever it knows
            rows = conn.execute(
                select(inquiries.c.subject_id)
                .where(inquiries.c.subject_id.in_(chunk), inquiries.c.made_at >= since)
                .distinct()
            )
        found.update(str(subject_id) for (subject_id,) in rows)
    return sorted(found)


def _adverse(
    rows: Sequence[Standing], sanctioned: list[str], found: Mapping[str, SubjectStanding]
) -> dict[str, str]:
    """What the adverse notices of the sanctioned subjects name, for the subjects whose
    explanation (the reference evaluator) gives the measures and lists the batch scoring gave.
    The engines agree by contract; should they not, the subject's sanctioned checks are computed
    (nothing stored), never answered from the batch with a notice that does not support it."""
    batch = {s.subject_id: s for s in rows}
    adverse: dict[str, str] = {}
    for subject_id in sanctioned:
        explanation, stored = found[subject_id].explanation, batch[subject_id]
        if explanation is None or (explanation.standing.measures, explanation.standing.lists) != (
            stored.measures,
            stored.lists,
        ):
            log.warning("the batch and the reference evaluator disagree on %s", subject_id)
            continue
        adverse[subject_id] = orjson.dumps(adverse_facts(explanation)).decode()
    return adverse


def refresh_all(
    conn: Connection,
    registry: SchemeRegistry,
    today: date,
    catalog: Catalog | None,
    *,
    grace_days: int = 30,
) -> dict[str, int]:
    """Batch refresh: every active scheme scored by DuckDB over the whole ledger, standings saved,
    list entries opened and closed (with notices to the newly listed).

    The ledger is read once for all the schemes
    (:func:`~xinyong.scoring.ledger_run.score_ledger_all`), as it stood when the refresh began,
    so every scheme's run records the same head.
    Returns the number of subjects whose list memberships changed, per scheme.
    """
    head = read_head(conn)
    active = registry.active(conn)
    tables = score_ledger_all(conn, [loaded.scheme for loaded in active], today, catalog, head.size)
    changed: dict[str, int] = {}
    for loaded, table in zip(active, tables, strict=True):
        rows = standings_from_table(table)
        open_rows = conn.execute(
            select(listings.c.subject_id, listings.c.list_id).where(
                listings.c.scheme_id == loaded.scheme.id, listings.c.delisted_on.is_(None)
            )
        ).all()
        listed: dict[str, set[str]] = {}
        for row in open_rows:
            listed.setdefault(str(row.subject_id), set()).add(str(row.list_id))
        relisted = [s.subject_id for s in rows if set(s.lists) != listed.pop(s.subject_id, set())]
        # The explanations of the relisted (their notices) and of the subjects a sanction applies
        # to (what a check's adverse notice names, stored with the standing; checks under a peer
        # scheme are always computed, see decisions.precomputed).
        sanctions = {m.id for m in loaded.scheme.measures if m.kind == "sanction"}
        if loaded.scheme.peer is not None:
            sanctions.clear()
        sanctioned = [s.subject_id for s in rows if sanctions.intersection(s.measures)]
        found = standings_of_many(conn, loaded, relisted + sanctioned, today, head.size, catalog)
        adverse = _adverse(rows, sanctioned, found)
        save_standings(conn, loaded, today, head, Engine.DUCKDB.value, rows, adverse)
        for subject_id in relisted:
            explanation = found[subject_id].explanation
            update_listings(conn, loaded, subject_id, explanation, today, grace_days)
        count = len(relisted)
        for subject_id in listed:  # listed subjects no longer scored at all
            update_listings(conn, loaded, subject_id, None, today, grace_days)
            count += 1
        changed[loaded.scheme.id] = count
    return changed
