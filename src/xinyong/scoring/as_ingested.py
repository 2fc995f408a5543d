"""A records file scored as if it had been ingested: the same records shown, the same subjects.

A ledger shows a record only within its code's maximum display period
(:func:`~xinyong.ledger.effective.effective_records`: a record that occurred on D is no longer
shown on A once D <= A - period), and scores every subject it has registered; ingest registers
every subject a record names, whatever the record's date. A records file scored directly gets
both from here, so that the file and a ledger holding its records give the same standings:

- :func:`displayed` leaves out the records whose code's display period has ended on the as-of
  date (codes the catalog does not know have no period, as in the ledger);
- :func:`named_subjects` is every subject the file names, with its kind, before anything is left
  out (a subject whose only records are in the future, or no longer shown, is scored at the base
  score, as a registered subject without records is).

Both exist for Arrow tables (files read into memory) and for Ibis tables (Parquet that DuckDB or
Spark scans in place; DuckDB's own SQL is :mod:`xinyong.engines.duckdb_scan`); the differential
tests hold them to the ledger's SQL.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from xinyong.domain.catalog import Catalog

if TYPE_CHECKING:
    import ibis.expr.types as ir

__all__ = ["displayed", "displayed_expr", "named_subjects", "named_subjects_expr"]

SUBJECTS_SCHEMA = pa.schema([("subject_id", pa.string()), ("kind", pa.string())])


def _cutoffs(as_of: date, catalog: Catalog) -> dict[str, date]:
    """Per code with a display period: the latest ``occurred_at`` no longer shown on ``as_of``."""
    return {
        code: as_of - timedelta(days=days)
        for days, codes in catalog.codes_by_max_display()
        for code in codes
    }


def displayed(records: pa.Table, as_of: date, catalog: Catalog | None) -> pa.Table:
    """The records (in :data:`~xinyong.domain.record_table.RECORDS_SCHEMA`) still shown on
    ``as_of``, in their order."""
    if catalog is None or records.num_rows == 0:
        return records
    cutoffs = _cutoffs(as_of, catalog)
    if not cutoffs:
        return records
    codes = pa.array(list(cutoffs), pa.string())
    limits = pa.array(list(cutoffs.values()), pa.date32())
    at = pc.index_in(records.column("code"), value_set=codes)
    cutoff = pc.take(limits, at)  # null for a code without a period
    shown = pc.or_kleene(pc.is_null(cutoff), pc.greater(records.column("occurred_at"), cutoff))
    return records.filter(shown)


def displayed_expr(records: ir.Table, as_of: date, catalog: Catalog | None) -> ir.Table:
    """:func:`displayed` for a table an engine scans."""
    import ibis  # here: reading a file into Arrow needs none of Ibis

    if catalog is None:
        return records
    hidden = [
        records.code.isin(sorted(codes))
        & (records.occurred_at <= ibis.literal(as_of - timedelta(days=days), type="date"))
        for days, codes in catalog.codes_by_max_display()
    ]
    if not hidden:
        return records
    gone = hidden[0]
    for condition in hidden[1:]:
        gone = gone | condition
    return records.filter(~gone.fill_null(False))


def named_subjects(records: pa.Table) -> pa.Table:
    """Every subject the records name, with its kind (``subject_id, kind``), sorted."""
    pairs = records.select(["subject_id", "subject_kind"]).group_by(["subject_id", "subject_kind"])
    found = pairs.aggregate([]).rename_columns(["subject_id", "kind"])
    return found.sort_by("subject_id").cast(SUBJECTS_SCHEMA)


def named_subjects_expr(records: ir.Table) -> ir.Table:
    """:func:`named_subjects` for a table an engine scans."""
    return records.select("subject_id", kind=records.subject_kind).distinct()
