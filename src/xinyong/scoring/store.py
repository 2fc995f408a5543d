"""Scheme versions and saved standings in the ledger database.

``xinyong scheme add`` stores a scheme's source under its content hash; the newest added version
of an id is active unless another is activated. A saved standings run records the scheme
version, the as-of date and the ledger head it read (size and root), so any standing can be
recomputed later and compared.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import MappingProxyType

import orjson
from sqlalchemy import Connection, insert, select, update

from xinyong.domain.catalog import Catalog
from xinyong.ledger.append import Batch, TreeHead, append_batch, utc_now_text
from xinyong.ledger.bulk import insert_rows
from xinyong.ledger.database import hold_append_lock, hold_lock
from xinyong.ledger.operations import log_rows
from xinyong.ledger.schema import events, schemes, standing_runs, standings
from xinyong.schemes.issues import Issue, Severity
from xinyong.schemes.lint import lint
from xinyong.schemes.load import LoadedScheme, parse_scheme
from xinyong.schemes.overrides import Override, guardrail_findings, match_overrides
from xinyong.scoring.standing import Standing

__all__ = [
    "OVERRIDE_EVENT",
    "GuardrailsUnmet",
    "MeasureTaken",
    "RecordedOverride",
    "SchemeRefused",
    "StandingRun",
    "UnknownScheme",
    "activate_scheme",
    "active_measures",
    "add_scheme",
    "deactivate_scheme",
    "gate_findings",
    "load_stored_scheme",
    "recorded_overrides",
    "save_standings",
    "stored_versions",
    "unmet",
]


SCHEMES_LOCK = "schemes"
"""Held while scheme versions are added, activated or deactivated (:func:`hold_lock`)."""


OVERRIDE_EVENT = "override"
"""The ledger event that records an override: an operator activated a scheme version despite a
guardrail finding. It references ``#scheme/ID@VERSION``, a name no furnished record can have (a
source is letters, digits and ``_.:-``), so it never touches a record's standing."""
_OVERRIDE_SOURCE = "#scheme"


class UnknownScheme(LookupError):
    """No stored scheme (or version) by that id."""


class SchemeRefused(ValueError):
    """A scheme with lint errors: it is never stored, and a stored version that has them under
    the catalog in force is never activated."""

    def __init__(self, scheme_id: str, errors: list[Issue]) -> None:
        self.scheme_id = scheme_id
        self.errors = errors
        super().__init__(
            f"scheme {scheme_id!r} has {len(errors)} error(s): " + "; ".join(str(e) for e in errors)
        )


class GuardrailsUnmet(ValueError):
    """A scheme version with guardrail findings that no override covers: not activated."""

    def __init__(self, scheme_id: str, version: str, findings: list[Issue]) -> None:
        self.scheme_id = scheme_id
        self.version = version
        self.findings = findings
        super().__init__(
            f"scheme {scheme_id!r} {version[:12]} is not activated: {len(findings)} guardrail "
            "finding(s) need an override, each with a reason and the name of the official "
            "responsible: " + "; ".join(f"{f.ref}: {f.message}" for f in findings)
        )


@dataclass(frozen=True, slots=True)
class RecordedOverride:
    """An override as the ledger holds it."""

    scheme_id: str
    version: str
    finding: str
    """The finding's ``check@where`` reference."""
    check: str
    message: str
    reason: str
    official: str
    operator: str
    """Who recorded it (the operator's key name, or the CLI user)."""
    effective_on: date
    position: int

    def public(self) -> dict[str, str]:
        """What the public, relying parties and subjects are shown."""
        return {
            "finding": self.finding,
            "message": self.message,
            "reason": self.reason,
            "official": self.official,
            "recorded_on": self.effective_on.isoformat(),
        }


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


def add_scheme(
    conn: Connection,
    loaded: LoadedScheme,
    activate: bool = True,
    *,
    catalog: Catalog | None = None,
    overrides: Sequence[Override] = (),
    operator: str = "",
    today: date | None = None,
) -> bool:
    """Store a scheme version and, with ``activate``, pass it through the activation gate
    (:func:`activate_scheme`); return False when that exact version was already stored.

    :class:`SchemeRefused` when it has lint errors under ``catalog``: nothing is stored.
    """
    errors = [i for i in lint(loaded, catalog) if i.severity is Severity.ERROR]
    if errors:
        raise SchemeRefused(loaded.scheme.id, errors)
    hold_append_lock(conn)  # an activation may append overrides: the ledger's lock first
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
        log_rows(conn, schemes, schemes.c.scheme_id == scheme.id)
    if activate:
        activate_scheme(
            conn,
            scheme.id,
            loaded.version,
            catalog=catalog,
            overrides=overrides,
            operator=operator,
            today=today,
        )
    return exists is None


def activate_scheme(
    conn: Connection,
    scheme_id: str,
    version: str,
    *,
    catalog: Catalog | None = None,
    overrides: Sequence[Override] = (),
    operator: str = "",
    today: date | None = None,
) -> list[RecordedOverride]:
    """Make ``version`` the active version of ``scheme_id`` (a version prefix is accepted), and
    return the overrides it is active under.

    The gate: :class:`SchemeRefused` when the version has lint errors under ``catalog``;
    :class:`GuardrailsUnmet` when a guardrail finding has no override, given now or recorded at
    an earlier activation of the same version (:class:`~xinyong.schemes.overrides.OverrideError`
    for an override that names no finding); :class:`MeasureTaken` when one of its measures is
    defined by another active scheme. New overrides are appended to the ledger in the same
    transaction (it takes the ledger's append lock).
    """
    hold_append_lock(conn)  # overrides are appended: the ledger's lock before the named one
    hold_lock(conn, SCHEMES_LOCK)  # two activations must not both see the measure free
    rows = conn.execute(
        select(schemes.c.version).where(
            schemes.c.scheme_id == scheme_id, schemes.c.version.startswith(version, autoescape=True)
        )
    ).all()
    if len(rows) != 1:
        raise UnknownScheme(f"scheme {scheme_id!r} has {len(rows)} versions matching {version!r}")
    full = str(rows[0].version)
    loaded = load_stored_scheme(conn, scheme_id, full)
    issues = lint(loaded, catalog)
    errors = [i for i in issues if i.severity is Severity.ERROR]
    if errors:
        raise SchemeRefused(scheme_id, errors)
    covered, uncovered = match_overrides(guardrail_findings(issues), overrides)
    recorded = recorded_overrides(conn, scheme_id, full)
    done = {r.finding for r in recorded}
    uncovered = unmet(uncovered, done)
    if uncovered:
        raise GuardrailsUnmet(scheme_id, full, uncovered)
    wanted = {m.id for m in loaded.scheme.measures}
    taken = {
        measure: other
        for other, measures in active_measures(conn).items()
        if other != scheme_id
        for measure in measures & wanted
    }
    if taken:
        raise MeasureTaken(scheme_id, taken)
    fresh: dict[str, tuple[Issue, Override]] = {}
    for issue, override in covered:
        if issue.ref not in done:
            fresh.setdefault(issue.ref, (issue, override))
    if fresh:
        _record_overrides(conn, scheme_id, full, fresh.values(), operator, today)
        recorded = recorded_overrides(conn, scheme_id, full)
    conn.execute(update(schemes).where(schemes.c.scheme_id == scheme_id).values(active=False))
    conn.execute(
        update(schemes)
        .where(schemes.c.scheme_id == scheme_id, schemes.c.version == full)
        .values(active=True)
    )
    log_rows(conn, schemes, schemes.c.scheme_id == scheme_id)
    return recorded


def unmet(findings: Sequence[Issue], recorded: Iterable[str]) -> list[Issue]:
    """The findings (lint errors and guardrail findings) that no recorded override covers:
    while there are any, the version may not decide a check."""
    done = set(recorded)
    return [f for f in findings if f.severity is Severity.ERROR or f.ref not in done]


def gate_findings(loaded: LoadedScheme, catalog: Catalog | None) -> list[Issue]:
    """What the activation gate looks at: the lint errors and guardrail findings of a version
    under ``catalog``."""
    issues = lint(loaded, catalog)
    return [i for i in issues if i.severity is Severity.ERROR] + guardrail_findings(issues)


def _record_overrides(
    conn: Connection,
    scheme_id: str,
    version: str,
    decided: Iterable[tuple[Issue, Override]],
    operator: str,
    today: date | None,
) -> None:
    day = today or datetime.now(UTC).date()
    rows = [
        (
            OVERRIDE_EVENT,
            _OVERRIDE_SOURCE,
            f"{scheme_id}@{version}",
            day,
            override.official,
            override.reason,
            orjson.dumps(
                {
                    "check": issue.check,
                    "finding": issue.ref,
                    "message": issue.message,
                    "operator": operator,
                },
                option=orjson.OPT_SORT_KEYS,
            ).decode(),
        )
        for issue, override in decided
    ]
    append_batch(conn, Batch(events=rows), f"override {scheme_id}@{version[:12]}")


def recorded_overrides(
    conn: Connection,
    scheme_id: str | None = None,
    version: str | None = None,
    *,
    recorded_by: str | None = None,
) -> list[RecordedOverride]:
    """The overrides in the ledger, of one version, of every version of one scheme, or all,
    in the order they were recorded; with ``recorded_by`` (a UTC time as the ledger writes
    it), only those recorded by then."""
    query = select(events).where(
        events.c.event_type == OVERRIDE_EVENT, events.c.source == _OVERRIDE_SOURCE
    )
    if recorded_by is not None:
        query = query.where(events.c.recorded_at <= recorded_by)
    if scheme_id is not None and version is not None:
        query = query.where(events.c.record_id == f"{scheme_id}@{version}")
    elif scheme_id is not None:
        query = query.where(events.c.record_id.startswith(f"{scheme_id}@", autoescape=True))
    found = []
    for row in conn.execute(query.order_by(events.c.position)):
        attrs = orjson.loads(row.attrs)
        owner, _, full = str(row.record_id).rpartition("@")
        found.append(
            RecordedOverride(
                scheme_id=owner,
                version=full,
                finding=str(attrs.get("finding", "")),
                check=str(attrs.get("check", "")),
                message=str(attrs.get("message", "")),
                reason=str(row.reason),
                official=str(row.actor),
                operator=str(attrs.get("operator", "")),
                effective_on=_as_date(row.effective_on),
                position=int(row.position),
            )
        )
    return found


def _as_date(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


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
    log_rows(conn, schemes, schemes.c.scheme_id == scheme_id)


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
