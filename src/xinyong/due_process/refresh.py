"""Keeping a subject current after anything changes its records.

Each ledger event about a subject (records submitted, an objection decided or lapsed, a repair
approved) calls :func:`refresh_subject`: the subject's standing under every active scheme is
recomputed, its list entries opened or closed (with notices), and corrections queued for the
relying parties whose recent answers changed.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection

from xinyong.decisions.standing import SchemeRegistry, standing_of
from xinyong.domain.catalog import Catalog
from xinyong.due_process.corrections import queue_corrections
from xinyong.due_process.disclosure import update_listings
from xinyong.ledger.append import read_head

__all__ = ["refresh_subject"]


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
