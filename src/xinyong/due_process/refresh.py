"""Keeping a subject current after anything changes its records.

Each ledger event about a subject (records submitted, an objection decided or lapsed, a repair
approved) calls :func:`refresh_subject`: the subject's standing under every active scheme is
recomputed, its list entries opened or closed (with notices), and corrections queued for the
relying parties whose recent answers changed.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection, select

from xinyong.decisions.standing import SchemeRegistry, standing_of
from xinyong.domain.catalog import Catalog
from xinyong.due_process.corrections import queue_corrections
from xinyong.due_process.disclosure import update_listings
from xinyong.ledger.append import read_head
from xinyong.ledger.schema import listings
from xinyong.scoring.run import Engine, score_ledger, standings_from_table
from xinyong.scoring.store import save_standings

__all__ = ["refresh_all", "refresh_subject"]


def refresh_subject(
    conn: Connection,
    registry: SchemeRegistry,
    subject_id: str,
    today: date,
    catalog: Catalog | None,
    *,
    grace_days: int = 30,
    correction_window_days: int = 90,
) -> list[str]:
    """Recompute listings and queue corrections for one subject; return queued message ids."""
    head = read_head(conn)
    for loaded in registry.active(conn):
        standing = standing_of(conn, loaded, subject_id, today, head.size, catalog)
        update_listings(conn, loaded, subject_id, standing.explanation, today, grace_days)
    return queue_corrections(conn, registry, subject_id, today, catalog, correction_window_days)


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

    Returns the number of subjects whose list memberships changed, per scheme.
    """
    head = read_head(conn)
    changed: dict[str, int] = {}
    for loaded in registry.active(conn):
        table, head = score_ledger(conn, loaded.scheme, today, Engine.DUCKDB, catalog, head.size)
        rows = standings_from_table(table)
        save_standings(conn, loaded, today, head, Engine.DUCKDB.value, rows)
        open_rows = conn.execute(
            select(listings.c.subject_id, listings.c.list_id).where(
                listings.c.scheme_id == loaded.scheme.id, listings.c.delisted_on.is_(None)
            )
        ).all()
        listed: dict[str, set[str]] = {}
        for row in open_rows:
            listed.setdefault(str(row.subject_id), set()).add(str(row.list_id))
        count = 0
        for standing in rows:
            if set(standing.lists) != listed.pop(standing.subject_id, set()):
                found = standing_of(conn, loaded, standing.subject_id, today, head.size, catalog)
                update_listings(
                    conn, loaded, standing.subject_id, found.explanation, today, grace_days
                )
                count += 1
        for subject_id in listed:  # listed subjects no longer scored at all
            update_listings(conn, loaded, subject_id, None, today, grace_days)
            count += 1
        changed[loaded.scheme.id] = count
    return changed
