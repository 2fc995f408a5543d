"""Scheme versions and saved standings in the ledger database.

``xinyong scheme add`` stores a scheme's source under its content hash; the newest added version
of an id is active unless another is activated. A saved standings run records the scheme
version, the as-of date and the ledger head it read (size and root), so any standing can be
recomputed later and compared.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType

from sqlalchemy import Connection, insert, select, update

from xinyong.ledger.append import TreeHead, utc_now_text
from xinyong.ledger.bulk import insert_rows
from xinyong.ledger.database import hold_lock
from xinyong.ledger.schema import schemes, standing_runs, standings
from xinyong.schemes.load import LoadedScheme, parse_scheme
from xinyong.scoring.standing import Standing

__all__ = [
    "MeasureTaken",
    "StandingRun",
    "UnknownScheme",
    "activate_scheme",
    "active_measures",
    "add_scheme",
    "deactivate_scheme",
    "load_stored_scheme",
    "save_standings",
    "stored_versions",
]


SCHEMES_LOCK = "schemes"
"""Held while scheme versions are added, activated or deactivated (:func:`hold_lock`)."""


class UnknownScheme(LookupError):
    """No stored scheme (or version) by that id."""


class MeasureTaken(ValueError):
    """A scheme defines a measure that another active scheme owns.

    A relying party is registered for a measure and checks it by id, so each id has exactly one
    owner among the active schemes; a new version of the same scheme keeps its own.
    """

    def __init__(self, scheme_id: str, taken: dict[str, str]) -> None:
        self.scheme_id = scheme_id
        self.taken = taken
        """Measure id to the active scheme that owns it."""
        owners = "; ".join(
            f"{m!r} belongs to active scheme {o!r}" for m, o in sorted(taken.items())
        )
        super().__init__(
            f"scheme {scheme_id!r} cannot be activated: {owners}. Rename the measure, or "
            f"deactivate the scheme that owns it first (xinyong scheme deactivate ID)"
        )


@dataclass(frozen=True, slots=True)
class StandingRun:
    """A saved batch of standings."""

    run_id: str
    scheme_id: str
    version: str
    as_of: date
    head: TreeHead
    engine: str
    subjects: int


def add_scheme(conn: Connection, loaded: LoadedScheme, activate: bool = True) -> bool:
    """Store a scheme version; return False when that exact version was already stored."""
    hold_lock(conn, SCHEMES_LOCK)
    scheme = loaded.scheme
    exists = conn.execute(
        select(schemes.c.version).where(
            schemes.c.scheme_id == scheme.id, schemes.c.version == loaded.version
        )
    ).first()
    if exists is None:
        conn.execute(
            insert(schemes).values(
                scheme_id=scheme.id,
                version=loaded.version,
                name=scheme.name,
                source=loaded.text,
                added_at=utc_now_text(),
                active=False,
            )
        )
    if activate:
        activate_scheme(conn, scheme.id, loaded.version)
    return exists is None


def activate_scheme(conn: Connection, scheme_id: str, version: str) -> None:
    """Make ``version`` the active version of ``scheme_id`` (a version prefix is accepted).

    :class:`MeasureTaken` when one of its measures is defined by another active scheme.
    """
    hold_lock(conn, SCHEMES_LOCK)  # two activations must not both see the measure free
    rows = conn.execute(
        select(schemes.c.version).where(
            schemes.c.scheme_id == scheme_id, schemes.c.version.startswith(version, autoescape=True)
        )
    ).all()
    if len(rows) != 1:
        raise UnknownScheme(f"scheme {scheme_id!r} has {len(rows)} versions matching {version!r}")
    wanted = {m.id for m in load_stored_scheme(conn, scheme_id, rows[0].version).scheme.measures}
    taken = {
        measure: other
        for other, measures in active_measures(conn).items()
        if other != scheme_id
        for measure in measures & wanted
    }
    if taken:
        raise MeasureTaken(scheme_id, taken)
    conn.execute(update(schemes).where(schemes.c.scheme_id == scheme_id).values(active=False))
    conn.execute(
        update(schemes)
        .where(schemes.c.scheme_id == scheme_id, schemes.c.version == rows[0].version)
        .values(active=True)
    )


def deactivate_scheme(conn: Connection, scheme_id: str) -> None:
    """Make no version of ``scheme_id`` active: its measures stop applying, and their ids are
    free for another scheme."""
    hold_lock(conn, SCHEMES_LOCK)
    done = conn.execute(
        update(schemes)
        .where(schemes.c.scheme_id == scheme_id, schemes.c.active.is_(True))
        .values(active=False)
    )
    if not done.rowcount:
        raise UnknownScheme(f"no active scheme {scheme_id!r}")


def active_measures(conn: Connection) -> dict[str, frozenset[str]]:
    """The measure ids of every active scheme, by scheme id."""
    rows = conn.execute(select(schemes.c.scheme_id).where(schemes.c.active.is_(True))).all()
    return {
        str(row.scheme_id): frozenset(
            m.id for m in load_stored_scheme(conn, str(row.scheme_id)).scheme.measures
        )
        for row in rows
    }


def stored_versions(conn: Connection) -> list[dict[str, object]]:
    """Every stored scheme version (id, version, name, when added, whether active)."""
    rows = conn.execute(
        select(
            schemes.c.scheme_id,
            schemes.c.version,
            schemes.c.name,
            schemes.c.added_at,
            schemes.c.active,
        ).order_by(schemes.c.scheme_id, schemes.c.added_at)
    ).all()
    return [dict(row._mapping) for row in rows]


def load_stored_scheme(
    conn: Connection, scheme_id: str, version: str | None = None
) -> LoadedScheme:
    """The active (or the named) version of a stored scheme."""
    query = select(schemes.c.version, schemes.c.source).where(schemes.c.scheme_id == scheme_id)
    if version is None:
        query = query.where(schemes.c.active.is_(True))
    else:
        query = query.where(schemes.c.version.startswith(version, autoescape=True))
    rows = conn.execute(query).all()
    if len(rows) != 1:
        what = f"version {version!r}" if version else "an active version"
        raise UnknownScheme(f"no stored scheme {scheme_id!r} with {what}")
    loaded = parse_scheme(str(rows[0].source))
    if loaded.version != rows[0].version:  # the stored text no longer hashes to its version
        raise UnknownScheme(f"stored scheme {scheme_id!r} {rows[0].version[:12]} was altered")
    return loaded


def save_standings(
    conn: Connection,
    loaded: LoadedScheme,
    as_of: date,
    head: TreeHead,
    engine: str,
    rows: Sequence[Standing],
    adverse: Mapping[str, str] = MappingProxyType({}),
) -> StandingRun:
    """Write a standings run in bulk (``COPY`` on PostgreSQL: a refresh writes one row per
    subject, millions of them). ``adverse`` gives, per subject a sanction applies to, what its
    adverse notice names (the ``adverse`` column); a subject without it has its sanctioned
    checks computed."""
    run = StandingRun(
        str(uuid.uuid4()), loaded.scheme.id, loaded.version, as_of, head, engine, len(rows)
    )
    conn.execute(
        insert(standing_runs).values(
            run_id=run.run_id,
            scheme_id=run.scheme_id,
            version=run.version,
            as_of=as_of,
            known_at=head.size,
            root=head.root,
            engine=engine,
            subjects=len(rows),
            computed_at=utc_now_text(),
        )
    )
    insert_rows(
        conn,
        standings,
        ("run_id", "subject_id", "score", "grade", "lists", "measures", "adverse"),
        ((run.run_id, *s.row().values(), adverse.get(s.subject_id)) for s in rows),
    )
    return run
