"""Scoring Parquet records where they lie: a file or a directory, scanned by the batch engine.

A records dataset too large for one process's memory (a partitioned ``xinyong export``, the
synthetic 100-million-record population of ``bench/scale.py``) is not read into Arrow first:
DuckDB and Spark scan its files, in parallel, reading only the columns a scheme uses. The same
checks as :func:`~xinyong.scoring.records_file.read_records_file` run in the engine before
scoring, as one aggregate over the whole dataset: a dataset with bad rows is refused as a whole,
naming how many rows fail each check and the first failing ``record_id`` (a scan has no row
order to number rows by).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from xinyong.domain.record_table import CHECKS, MIXED_KINDS, REQUIRED, RecordsFileError
from xinyong.domain.records import SUBJECT_KINDS

__all__ = ["check_records", "normalised_records"]


def normalised_records(path: Path, raw: ir.Table) -> ir.Table:
    """The scanned table in the records shape scoring reads, cleaned as a records file is.

    An empty ``case_id`` is no case; a missing or blank ``attrs`` is ``{}``. ``occurred_at`` may
    be a date, a timestamp or ``YYYY-MM-DD`` text (a bad date becomes NULL and is reported by
    :func:`check_records`).
    """
    missing = [name for name in REQUIRED if name not in raw.columns]
    if missing:
        raise RecordsFileError(f"{path}: missing column(s) {', '.join(missing)}")

    def text(name: str) -> ir.StringValue:
        if name in raw.columns:
            return raw[name].cast("string")
        return ibis.null("string")

    occurred = raw.occurred_at
    if occurred.type().is_timestamp():
        occurred = occurred.date()
    elif not occurred.type().is_date():
        # YYYY-MM-DD only, as a records file is read: the engines' casts take more ('infinity')
        spelled = occurred.cast("string")
        occurred = ibis.ifelse(
            spelled.re_search(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"), spelled.try_cast("date"), None
        ).cast("date")
    attrs = text("attrs")
    return raw.select(
        record_id=text("record_id"),
        source=text("source"),
        subject_id=text("subject_id"),
        subject_kind=text("subject_kind"),
        code=text("code"),
        occurred_at=occurred,
        case_id=text("case_id").nullif(""),
        attrs=ibis.ifelse(attrs.isnull() | (attrs.strip() == ""), "{}", attrs),
    )


def _failing(records: ir.Table) -> list[ir.BooleanValue]:
    """One condition per entry of :data:`CHECKS`, true for a row that fails it."""
    return [
        records.subject_id.isnull() | (records.subject_id.strip() == ""),
        records.code.isnull() | (records.code.strip() == ""),
        ~records.subject_kind.isin(list(SUBJECT_KINDS)).fill_null(False),
        records.occurred_at.isnull(),
    ]


def check_records(path: Path, records: ir.Table, execute: Callable[[ir.Table], pa.Table]) -> None:
    """Refuse the dataset when rows fail the checks of a records file.

    ``execute`` runs an expression on the engine that scans ``records``. The common case, a
    clean dataset, costs one aggregate of counts; only when some check fails is the dataset
    scanned again for the first failing ``record_id`` of each failing check.
    """
    failing = _failing(records)
    counts = execute(records.aggregate(**{f"n{i}": c.sum() for i, c in enumerate(failing)}))
    found = {i: int(counts.column(f"n{i}")[0].as_py() or 0) for i in range(len(failing))}
    if not any(found.values()):
        _one_kind_each(path, records, execute)
        return
    firsts = execute(
        records.aggregate(
            **{f"first{i}": records.record_id.min(where=failing[i]) for i in found if found[i]}
        )
    )
    messages = []
    for i, count in found.items():
        if count:
            first = firsts.column(f"first{i}")[0].as_py()
            where = f" (first record_id {first})" if first is not None else ""
            messages.append(f"{CHECKS[i]}: {count:,} row(s){where}")
    raise RecordsFileError(f"{path}: " + "; ".join(messages))


def _one_kind_each(path: Path, records: ir.Table, execute: Callable[[ir.Table], pa.Table]) -> None:
    """Refuse a dataset that names one subject as a person and as an organization (ingest would
    reject the later rows: a subject is registered with one kind)."""
    kinds = records.group_by("subject_id").aggregate(kinds=records.subject_kind.nunique())
    mixed = execute(kinds.filter(kinds.kinds > 1).select("subject_id").order_by("subject_id"))
    if mixed.num_rows:
        first = mixed.column("subject_id")[0].as_py()
        raise RecordsFileError(f"{path}: " + MIXED_KINDS.format(count=mixed.num_rows, first=first))
