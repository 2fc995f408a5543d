"""Reading what scoring needs from the ledger: effective records and registered subjects.

Ledger mode scores *every registered subject* of a scheme's kinds, over the records in force as
of the date (revocations, repairs and expiry by the catalog's maximum display period applied) as
known at a log size, so a standing can be reproduced later from ``(scheme version, as_of,
known_at)``.
"""

from __future__ import annotations

from datetime import date

import orjson
import pyarrow as pa
from sqlalchemy import Connection

from xinyong.domain.catalog import Catalog
from xinyong.ledger.effective import current_subjects, effective_records
from xinyong.scoring.records_file import RECORDS_SCHEMA
from xinyong.scoring.standing import InputRecord

__all__ = ["SUBJECTS_SCHEMA", "effective_table", "subject_records", "subjects_table"]

SUBJECTS_SCHEMA = pa.schema([("subject_id", pa.string()), ("kind", pa.string())])
_CHUNK = 200_000


def effective_table(
    conn: Connection, as_of: date, known_at: int | None, catalog: Catalog | None
) -> pa.Table:
    """Effective records as an Arrow table in :data:`RECORDS_SCHEMA`."""
    query = effective_records(as_of, known_at, catalog)
    result = conn.execute(query, execution_options={"stream_results": True, "yield_per": _CHUNK})
    batches = []
    for rows in result.partitions(_CHUNK):
        batches.append(
            pa.RecordBatch.from_arrays(
                [
                    pa.array([r.record_id for r in rows], pa.string()),
                    pa.array([r.source for r in rows], pa.string()),
                    pa.array([r.subject_id for r in rows], pa.string()),
                    pa.array([r.subject_kind for r in rows], pa.string()),
                    pa.array([r.code for r in rows], pa.string()),
                    pa.array([r.occurred_at for r in rows], pa.date32()),
                    pa.array([r.case_id for r in rows], pa.string()),
                    pa.array([r.attrs for r in rows], pa.string()),
                ],
                schema=RECORDS_SCHEMA,
            )
        )
    return pa.Table.from_batches(batches, schema=RECORDS_SCHEMA)


def subjects_table(conn: Connection, known_at: int | None) -> pa.Table:
    """Registered subjects (newest version of each) as an Arrow table."""
    rows = conn.execute(current_subjects(known_at)).all()
    return pa.table(
        {"subject_id": [r.subject_id for r in rows], "kind": [r.kind for r in rows]},
        schema=SUBJECTS_SCHEMA,
    )


def subject_records(
    conn: Connection,
    subject_id: str,
    as_of: date,
    known_at: int | None,
    catalog: Catalog | None,
) -> list[InputRecord]:
    """One subject's effective records: the per-subject path of the reference evaluator."""
    query = effective_records(as_of, known_at, catalog)
    query = query.where(query.selected_columns.subject_id == subject_id)
    return [
        InputRecord(
            record_id=row.record_id,
            subject_id=row.subject_id,
            subject_kind=row.subject_kind,
            code=row.code,
            occurred_at=row.occurred_at,
            source=row.source,
            case_id=row.case_id,
            attrs=orjson.loads(row.attrs),
            position=row.position,
        )
        for row in conn.execute(query)
    ]
