"""Checks: a relying party asks whether one measure applies to one subject.

The answer discloses as little as possible: yes or no, which scheme version and as of when, and
a decision id; never the score or the records. A relying party may only ask about the measures
it is registered for (its permissible purpose) and only by full subject id: there is no listing
and no search, and an unknown subject gets the same "no" as a known one, so checks cannot be
used to find out who is registered.

Every check is written to the inquiry log, with the scheme version, as-of date and ledger size,
before the answer is returned: the subject sees who looked them up, and the decision can be
replayed exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson
from sqlalchemy import Connection, Table, bindparam, column, func, insert, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.selectable import TableValuedAlias

from xinyong.decisions.decision_ids import new_decision_id
from xinyong.decisions.notices import (
    ADVERSE_CHECK,
    NOTICE_COLUMNS,
    adverse_facts,
    adverse_notice_id,
    notice_row,
)
from xinyong.decisions.precomputed import Precomputed, PrecomputedStandings
from xinyong.decisions.related import related_facts, related_measure
from xinyong.decisions.standing import SchemeRegistry, SubjectStanding, standing_of
from xinyong.domain.catalog import Catalog
from xinyong.domain.identifiers import mask_organization_id
from xinyong.ledger.adverse_notices import notice_hash
from xinyong.ledger.append import read_size, utc_now_text
from xinyong.ledger.database import inquiry_log_file
from xinyong.ledger.driver_sql import DriverStatement
from xinyong.ledger.entries import INQUIRY_COLUMNS
from xinyong.ledger.inquiry_tree import append_inquiries
from xinyong.ledger.schema import (
    inquiries,
    inquiry_checkpoints,
    notices,
    pending_notices,
    relying_parties,
)
from xinyong.schemes.load import LoadedScheme
from xinyong.schemes.model import Measure
from xinyong.ttl import MISSING, Missing, TtlCache

__all__ = [
    "INSERT_INQUIRIES",
    "INSERT_INQUIRY",
    "Checked",
    "Decision",
    "KnownStandings",
    "NotRegistered",
    "Purpose",
    "Registrations",
    "UnknownMeasure",
    "adverse_notice",
    "check_measure",
    "decide_from_stored",
    "decide_measure",
    "inquiry_json",
    "inquiry_rows",
    "log_decision",
    "log_decisions",
    "purpose",
    "registered_measures",
    "stored_decision",
]


class UnknownMeasure(LookupError):
    """No active scheme defines the measure."""


class NotRegistered(PermissionError):
    """The relying party is not registered for the measure (not its purpose)."""


@dataclass(frozen=True, slots=True)
class Decision:
    """The logged answer to a check."""

    decision_id: str
    relying_party: str
    subject_id: str
    measure: str
    applies: bool
    scheme_id: str
    version: str
    as_of: date
    known_at: int
    made_at: str
    reason: str | None = None
    """Set when the measure applies through the subject's role in an organisation
    (:mod:`~xinyong.decisions.related`): the role, the organisation masked and its lists. Not
    logged: a replay derives it again from the log size."""

    def public(self) -> dict[str, object]:
        """What the relying party is told."""
        answer: dict[str, object] = {
            "decision_id": self.decision_id,
            "subject": self.subject_id,
            "measure": self.measure,
            "applies": self.applies,
            "scheme": self.scheme_id,
            "version": self.version,
            "as_of": self.as_of.isoformat(),
            "made_at": self.made_at,
        }
        if self.reason is not None:
            answer["reason"] = self.reason
        return answer


def registered_measures(conn: Connection, relying_party: str) -> frozenset[str]:
    """The measures a relying party may check."""
    row = conn.execute(
        select(relying_parties.c.measures).where(relying_parties.c.name == relying_party)
    ).first()
    return frozenset() if row is None else frozenset(orjson.loads(row.measures))


class Registrations:
    """Relying parties' registered measures, from the ledger or cached for ``cache_seconds``."""

    def __init__(self, cache_seconds: float = 0.0) -> None:
        self._cache: TtlCache[str, frozenset[str]] = TtlCache(cache_seconds)

    def measures(self, conn: Connection, relying_party: str) -> frozenset[str]:
        """The measures ``relying_party`` may check."""
        return self._cache.get(relying_party, lambda: registered_measures(conn, relying_party))

    def peek(self, relying_party: str) -> frozenset[str] | Missing:
        """The cached measures of ``relying_party``, or :data:`~xinyong.ttl.MISSING`."""
        return self._cache.peek(relying_party)

    def invalidate(self) -> None:
        """Forget cached registrations (a party was registered or changed)."""
        self._cache.clear()


_UNCACHED = Registrations()


KnownStandings = Mapping[tuple[str, str, date, int], Mapping[str, SubjectStanding]]
"""Standings already worked out (by :func:`~xinyong.decisions.standing.standings_of_many`, for
the refresh after a batch of records), by scheme id, version, day and ledger size, then by
subject: what :func:`~xinyong.decisions.standing.standing_of` gives for them."""

Purpose = tuple[LoadedScheme, Measure]
"""The active scheme that defines a measure, and the measure."""

Checked = tuple[Decision, dict[str, object] | None]
"""A decision, and the adverse notice to its subject when a sanction applies."""


def purpose(
    conn: Connection | None,
    registry: SchemeRegistry,
    registrations: Registrations,
    relying_party: str,
    measure: str,
) -> Purpose | Missing:
    """The active scheme and definition of a measure the party may check (else an error).

    Without ``conn`` only what is cached is used: :data:`~xinyong.ttl.MISSING` when something
    must be read first.
    """
    measures = (
        registrations.peek(relying_party)
        if conn is None
        else registrations.measures(conn, relying_party)
    )
    if measures is MISSING:
        return MISSING
    if measure not in measures:
        raise NotRegistered(f"{relying_party} is not registered for measure {measure!r}")
    loaded = (
        registry.peek_for_measure(measure) if conn is None else registry.for_measure(conn, measure)
    )
    if loaded is MISSING:
        return MISSING
    if loaded is None:
        raise UnknownMeasure(f"no active scheme defines measure {measure!r}")
    return loaded, next(m for m in loaded.scheme.measures if m.id == measure)


def _decision(
    relying_party: str,
    subject_id: str,
    measure: str,
    applies: bool,
    loaded: LoadedScheme,
    today: date,
    size: int,
    reason: str | None = None,
) -> Decision:
    return Decision(
        decision_id=new_decision_id(),
        relying_party=relying_party,
        subject_id=subject_id,
        measure=measure,
        applies=applies,
        scheme_id=loaded.scheme.id,
        version=loaded.version,
        as_of=today,
        known_at=size,
        made_at=utc_now_text(),
        reason=reason,
    )


def decide_from_stored(
    conn: Connection,
    registry: SchemeRegistry,
    relying_party: str,
    subject_id: str,
    measure: str,
    today: date,
    registrations: Registrations,
    precomputed: PrecomputedStandings,
) -> Checked | None:
    """The decision (and adverse notice) from a stored standing that is still current (one
    read, a single statement, so it needs no transaction); None when it must be computed: no
    current stored standing, or a sanction applies and the run did not store what its notice
    names."""
    found = purpose(conn, registry, registrations, relying_party, measure)
    assert found is not MISSING  # read through conn
    stored = precomputed.read(conn, found[0], subject_id, today)
    return stored_decision(found, stored, relying_party, subject_id, measure, today)


def stored_decision(
    found: Purpose,
    stored: Precomputed | None,
    relying_party: str,
    subject_id: str,
    measure: str,
    today: date,
) -> Checked | None:
    """The decision (and adverse notice) a stored standing gives (:func:`decide_from_stored`);
    None when the standing must be computed."""
    loaded, measure_def = found
    if stored is None:
        return None
    applies = measure in stored.measures
    if not applies and measure_def.extends_to and stored.named:
        return None  # it may apply through the subject's role in an organisation
    if not (applies and measure_def.kind == "sanction"):
        decision = _decision(
            relying_party, subject_id, measure, applies, loaded, today, stored.size
        )
        return decision, None
    if stored.adverse is None:  # a run saved without what the notice names
        return None
    decision = _decision(relying_party, subject_id, measure, True, loaded, today, stored.size)
    return decision, adverse_notice(decision, found, orjson.loads(stored.adverse))


def adverse_notice(decision: Decision, found: Purpose, facts: dict[str, Any]) -> dict[str, object]:
    """The notice to the subject of a check whose sanction applies: the measure, its legal
    basis, the scheme version and date, and what :func:`~xinyong.decisions.notices.adverse_facts`
    names (the lists and the records that counted)."""
    loaded, measure_def = found
    return {
        "decision_id": decision.decision_id,
        "relying_party": decision.relying_party,
        "measure": decision.measure,
        "description": measure_def.description,
        "basis": measure_def.basis,
        "scheme": loaded.scheme.id,
        "version": loaded.version,
        "as_of": decision.as_of.isoformat(),
        **facts,
    }


def decide_measure(
    conn: Connection,
    registry: SchemeRegistry,
    relying_party: str,
    subject_id: str,
    measure: str,
    today: date,
    catalog: Catalog | None,
    registrations: Registrations = _UNCACHED,
    precomputed: PrecomputedStandings | None = None,
    known: KnownStandings | None = None,
) -> Checked:
    """Decide a check (reads only); return the decision and the adverse notice, if any.

    With ``precomputed``, a stored standing that is still current answers the check in one read
    (:func:`decide_from_stored`); otherwise, and whenever an adverse notice must name the
    records, the standing is computed from the subject's records, unless ``known`` holds it
    for the same scheme version, day and ledger size.
    """
    if precomputed is not None:
        stored = decide_from_stored(
            conn, registry, relying_party, subject_id, measure, today, registrations, precomputed
        )
        if stored is not None:
            return stored
    found = purpose(conn, registry, registrations, relying_party, measure)
    assert found is not MISSING  # read through conn
    loaded, measure_def = found
    size = read_size(conn)
    standing = (
        (known or {}).get((loaded.scheme.id, loaded.version, today, size), {}).get(subject_id)
    )
    if standing is None:
        standing = standing_of(conn, loaded, subject_id, today, size, catalog)
    explanation = standing.explanation
    applies = explanation is not None and measure in explanation.standing.measures
    related = None
    if not applies:
        related = related_measure(conn, loaded, measure_def, subject_id, today, size, catalog)
    reason = None
    if related is not None:
        applies, reason = True, related.reason(mask_organization_id(related.organization))
    decision = _decision(relying_party, subject_id, measure, applies, loaded, today, size, reason)
    notice: dict[str, object] | None = None
    if decision.applies and measure_def.kind == "sanction":
        if related is not None:
            facts = related_facts(related)
        else:
            assert explanation is not None
            facts = adverse_facts(explanation)
        notice = adverse_notice(decision, found, facts)
    return decision, notice


def log_decision(conn: Connection, decision: Decision, notice: dict[str, object] | None) -> None:
    """Write a decision to the inquiry log (and its adverse notice)."""
    log_decisions(conn, [(decision, notice)])


_LOGGED = (*INQUIRY_COLUMNS, "position", "leaf_hash")
INSERT_INQUIRY = DriverStatement(
    insert(inquiries).values({name: bindparam(name) for name in _LOGGED}),
    {
        "decision_id": "",
        "relying_party": "",
        "subject_id": "",
        "measure": "",
        "scheme_id": "",
        "version": "",
        "as_of": date.min,
        "known_at": 0,
        "applies": False,
        "made_at": "",
        "notice_hash": "",
        "position": 0,
        "leaf_hash": b"",
    },
)
"""The inquiry log's insert, compiled once: it runs for every check ."""


def inquiry_rows(logged: Iterable[Checked]) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """The rows that log these checks, still to be placed in the inquiry log's tree
    (:func:`~xinyong.ledger.inquiry_tree.place`), and the rows of their adverse notices.

    A notice is a function of its check (its id derived from the decision's, its time the
    check's), and the check's row holds the hash of its body, so that the inquiry log's tree
    holds the notice too (:mod:`xinyong.ledger.adverse_notices`)."""
    rows: list[dict[str, Any]] = []
    written: list[dict[str, str]] = []
    for decision, notice in logged:
        row = {name: getattr(decision, name) for name in INQUIRY_COLUMNS[:-1]}
        row["notice_hash"] = ""  # sent none (None: logged before the log held notices)
        if notice is not None:
            sent = notice_row(
                decision.subject_id,
                ADVERSE_CHECK,
                notice,
                adverse_notice_id(decision.decision_id),
                decision.made_at,
            )
            row["notice_hash"] = notice_hash(sent["body"])
            written.append(sent)
        rows.append(row)
    return rows, written


def _insert_inquiries() -> DriverStatement:
    def given(name: str, table: Table, columns: Sequence[str]) -> TableValuedAlias:
        return (
            func.json_to_recordset(bindparam(name, type_=postgresql.JSON))
            .table_valued(*(column(c, table.c[c].type) for c in columns))
            .render_derived(with_types=True)
            .alias(f"given_{name}")
        )

    # The rows are placed in the inquiry log's tree already (the caller holds its lock and
    # left out the decisions logged by a commit whose answer was lost). The notices and the
    # tree's new head are written by data-modifying WITHs, which PostgreSQL runs exactly once,
    # in the statement's own transaction.
    written = given("notices", notices, NOTICE_COLUMNS)
    noticed = (
        postgresql.insert(notices)
        .from_select(list(NOTICE_COLUMNS), select(*written.c))
        .on_conflict_do_nothing(index_elements=["notice_id"])
        .cte("noticed")
    )
    head_columns = ("size", "root", "frontier", "committed_at")
    head = given("head", inquiry_checkpoints, head_columns)
    headed = (
        insert(inquiry_checkpoints).from_select(list(head_columns), select(*head.c)).cte("headed")
    )
    logged = given("rows", inquiries, _LOGGED)
    statement = (
        postgresql.insert(inquiries)
        .from_select(list(_LOGGED), select(*logged.c))
        .add_cte(noticed)
        .add_cte(headed)
    )
    return DriverStatement(statement, {"rows": "[]", "notices": "[]", "head": "[]"})


INSERT_INQUIRIES = _insert_inquiries()
""":data:`INSERT_INQUIRY` for a whole batch in one statement, with the batch's adverse notices
and the inquiry log tree's new head (PostgreSQL: one execution, in the transaction that took the
tree's lock and read its head, :class:`~xinyong.application.inquiry_log.InquiryLog`; the two
round trips are pipelined). Its parameters are JSON arrays (:func:`inquiry_json`), each
serialised in one call where a list per column would be adapted value by value: ``rows`` the
decisions, ``notices`` the rows of ``notices`` (:func:`~xinyong.decisions.notices.notice_row`),
``head`` the new head."""


def inquiry_json(
    rows: Sequence[dict[str, Any]], written: Sequence[dict[str, str]], head: dict[str, Any]
) -> dict[str, str]:
    """The parameters of :data:`INSERT_INQUIRIES` that log checks (their ``rows``, placed in the
    inquiry log's tree, whose new head is ``head``) and their notices (``written``), as
    :func:`inquiry_rows` gives them."""
    return {
        "rows": orjson.dumps([_bytea(row, "leaf_hash") for row in rows]).decode(),
        "notices": orjson.dumps(written).decode(),
        "head": orjson.dumps([_bytea(head, "root")]).decode(),
    }


def _bytea(row: dict[str, Any], name: str) -> dict[str, Any]:
    """``row`` with its bytes column ``name`` in PostgreSQL's hex form, for JSON."""
    return {**row, name: "\\x" + bytes(row[name]).hex()}


def log_decisions(
    conn: Connection, logged: Sequence[tuple[Decision, dict[str, object] | None]]
) -> None:
    """Write decisions to the inquiry log (and their adverse notices) in one statement each.

    A SQLite ledger whose inquiry log has a file of its own gets the notices in
    ``pending_notices`` beside the log, so that a check and its notice are in one file and
    commit together (SQLite commits each attached file on its own), and a check's transaction
    writes only the log's file; they are moved to ``notices`` later
    (:func:`~xinyong.decisions.notices.move_pending_notices`)."""
    rows, written = inquiry_rows(logged)
    if written:
        beside = inquiry_log_file(conn.engine) is not None
        conn.execute(insert(pending_notices if beside else notices), written)
    if rows:
        append_inquiries(conn, rows, lambda placed: INSERT_INQUIRY.run_many(conn, placed))


def check_measure(
    conn: Connection,
    registry: SchemeRegistry,
    relying_party: str,
    subject_id: str,
    measure: str,
    today: date,
    catalog: Catalog | None,
) -> Decision:
    """Decide and log a check on one connection (inside a write transaction)."""
    decision, notice = decide_measure(
        conn, registry, relying_party, subject_id, measure, today, catalog
    )
    log_decision(conn, decision, notice)
    return decision
