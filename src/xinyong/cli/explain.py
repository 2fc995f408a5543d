"""``xinyong explain``: one subject's standing record by record, with its peer score and the
measures that reach it through an organisation.

Apart from ``xinyong score`` because it needs what scoring a file does not (the reference
evaluator's explanations, the ledger's relations and peer scores): ``score`` imports less.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import orjson
import pyarrow as pa
import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy import Connection

from xinyong.cli.common import (
    CatalogOption,
    DbOption,
    fail,
    load_catalog_or_exit,
    open_db_or_exit,
    out,
)
from xinyong.cli.peer import print_peer
from xinyong.cli.score import (
    AsOfOption,
    RecordsOption,
    checked_scheme,
    parse_date,
    records_from_stdin,
)
from xinyong.decisions.related import related_facts, related_measure, relations_of
from xinyong.decisions.standing import peer_scores_of, subject_kind
from xinyong.domain.catalog import Catalog
from xinyong.domain.identifiers import IdentifierRefused, canonical_subject_id
from xinyong.domain.record_table import RecordsFileError, input_records
from xinyong.ledger.append import read_head
from xinyong.peer.algorithms import peer_scores_from_table
from xinyong.peer.ratings import SeedsAbsent
from xinyong.peer.result import PeerScore
from xinyong.schemes.eligibility import ineligibility
from xinyong.schemes.load import LoadedScheme
from xinyong.scoring.as_ingested import displayed, named_subjects
from xinyong.scoring.explanation import explanation_json
from xinyong.scoring.ledger_source import subject_records
from xinyong.scoring.records_file import read_records_file
from xinyong.scoring.reference import Explanation, explain_subject

__all__ = ["explain"]


def explain(
    scheme: Annotated[Path, typer.Argument(help="Scheme TOML file or bundled pilot id.")],
    subject: Annotated[str, typer.Option("--subject", help="The subject id.")],
    as_of: AsOfOption = "",
    records: RecordsOption = None,
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    catalog: CatalogOption = None,
) -> None:
    """Explain one subject's standing record by record: what counted, what did not, and why."""
    if not as_of:
        fail("--as-of YYYY-MM-DD is required")
    day = parse_date(as_of, "--as-of")
    try:
        subject = canonical_subject_id(subject)
    except IdentifierRefused as exc:
        fail(f"--subject: not a subject id: {exc.reason}")
    cat = load_catalog_or_exit(catalog)
    loaded = checked_scheme(scheme, cat)
    registered: str | None = None
    related: list[dict[str, Any]] = []
    records = records_from_stdin(records)
    try:
        if records is not None:
            named = read_records_file(records)
            table = displayed(named, day, cat)  # as if ingested: what the catalog still shows
            found = [r for r in input_records(records, table) if r.subject_id == subject]
            kinds = named_subjects(named).to_pydict()
            registered = dict(zip(kinds["subject_id"], kinds["kind"], strict=True)).get(subject)
            peer = _peer_score(loaded, subject, day, table, None, cat)
        else:
            engine_db = open_db_or_exit(db)
            try:
                with engine_db.connect() as conn:
                    size = read_head(conn).size
                    found = subject_records(conn, subject, day, size, cat)
                    registered = subject_kind(conn, subject, size)
                    peer = _peer_score(loaded, subject, day, None, (conn, size), cat)
                    related = _related(conn, loaded, subject, day, size, cat)
            finally:
                engine_db.dispose()
    except (RecordsFileError, SeedsAbsent) as exc:
        fail(str(exc))
    kinds = {registered} if registered else {r.subject_kind for r in found}
    reasons = [ineligibility(loaded.scheme, subject, k, found, day) for k in sorted(kinds)]
    if reasons and None not in reasons:
        _print_not_scored(subject, loaded, str(reasons[0]), related, as_json)
        return
    result = explain_subject(loaded.scheme, subject, found, day, peer)
    if as_json:
        told = {**explanation_json(result, loaded.version), "related_measures": related}
        out.print(orjson.dumps(told).decode())
    else:
        _print_explanation(result, loaded)
        _print_related(related)


def _print_not_scored(
    subject: str, loaded: LoadedScheme, reason: str, related: list[dict[str, Any]], as_json: bool
) -> None:
    if as_json:
        told = {"subject": subject, "scheme": loaded.scheme.id, "scored": False}
        told |= {"reason": reason, "related_measures": related}
        out.print(orjson.dumps(told).decode())
    else:
        out.print(f"{subject} is not scored by {loaded.scheme.id}: {reason}", markup=False)
        _print_related(related)


def _related(
    conn: Connection,
    loaded: LoadedScheme,
    subject: str,
    day: date,
    size: int,
    catalog: Catalog,
) -> list[dict[str, Any]]:
    """The scheme's measures that reach ``subject`` through a role in an organisation
    (ledger mode only: relations are between registered subjects)."""
    extended = [m for m in loaded.scheme.measures if m.extends_to]
    if not extended:
        return []
    held = relations_of(conn, subject, day, size, catalog)
    reaching = []
    for measure in extended:
        found = related_measure(conn, loaded, measure, subject, day, size, catalog, held)
        if found is not None:
            reaching.append({"measure": measure.id, **related_facts(found)["related"]})
    return reaching


def _print_related(related: list[dict[str, Any]]) -> None:
    for r in related:
        out.print(f"measure {r['measure']} applies {r['reason']} (record {r['record']})")


def _peer_score(
    loaded: LoadedScheme,
    subject: str,
    day: date,
    table: pa.Table | None,
    ledger: tuple[Connection, int] | None,
    catalog: Catalog,
) -> PeerScore | None:
    """The subject's peer score over the records file or the ledger (None without [peer])."""
    section = loaded.scheme.peer
    if section is None:
        return None
    if table is not None:
        scores = peer_scores_from_table(section, table, loaded.scheme.subject_kinds, day)
        return scores.explain(subject)
    assert ledger is not None
    conn, size = ledger
    return peer_scores_of(conn, loaded, day, size, catalog).explain(subject)


def _print_explanation(result: Explanation, loaded: LoadedScheme) -> None:
    s = result.standing
    out.print(
        f"[bold]{escape(s.subject_id)}[/] under {escape(result.scheme_id)} "
        f"{loaded.short_version} as of {result.as_of}: score {s.score:g}, "
        f"grade {escape(s.grade)}",
        markup=True,
    )
    table = Table(title="Records that counted")
    for column in (
        "record",
        "code",
        "date",
        "rule",
        "age (days)",
        "term",
        "units",
        "factor",
        "contribution",
    ):
        table.add_column(column)
    for c in result.records:
        if c.counted:
            table.add_row(
                c.record.key,
                c.record.code,
                str(c.record.occurred_at),
                c.rule_id,
                str(c.age_days),
                f"{c.term} (until {c.ends_on})" if c.term else "-",
                "-" if c.units is None else f"{c.units:g}",
                f"{c.factor:.4f}",
                f"{c.contribution:+g}",
            )
    out.print(table)
    rules = Table(title="Rule totals")
    for column in ("rule", "records", "total", "after cap"):
        rules.add_column(column)
    for r in result.rules:
        rules.add_row(
            r.rule_id,
            str(r.count),
            f"{r.raw_total:+g}",
            f"{r.total:+g}" + (" (capped)" if r.capped else ""),
        )
    out.print(rules)
    skipped = Table(title="Records that did not count")
    for column in ("record", "code", "date", "rule", "why not"):
        skipped.add_column(column)
    for c in result.records:
        if not c.counted:
            skipped.add_row(
                c.record.key, c.record.code, str(c.record.occurred_at), c.rule_id, c.reason
            )
    for record, reason in result.ignored:
        skipped.add_row(record.key, record.code, str(record.occurred_at), "-", reason)
    out.print(skipped)
    if result.peer is not None:
        print_peer(result.peer, result.peer_points)
    peer_text = f" + peer {result.peer_points:g}" if result.peer is not None else ""
    out.print(
        f"base {result.base:g}{peer_text} + rule totals = {result.raw_score:g}; after "
        f"floor/ceiling {result.clamped_score:g}; rounded {s.score:g} -> grade "
        f"{result.score_grade}"
    )
    for rule_id, grade in result.assignments:
        out.print(f"grade: rule {rule_id} has a counting record: grade {grade} in its place")
    for rule_id, grade in result.vetoes:
        out.print(f"veto: rule {rule_id} has a counting record: grade no better than {grade}")
    out.print(
        f"grade {s.grade}; lists: {', '.join(s.lists) or '-'}; measures: "
        f"{', '.join(s.measures) or '-'}"
    )
