"""Input records as the Arrow table a records file is read into."""

from __future__ import annotations

import orjson
import pyarrow as pa

from xinyong.domain.record_table import RECORDS_SCHEMA
from xinyong.domain.records import InputRecord


def input_table(records: list[InputRecord]) -> pa.Table:
    """``records`` in the records schema (attributes as canonical JSON)."""
    rows = [
        {
            "record_id": r.record_id,
            "source": r.source,
            "subject_id": r.subject_id,
            "subject_kind": r.subject_kind,
            "code": r.code,
            "occurred_at": r.occurred_at,
            "case_id": r.case_id,
            "attrs": orjson.dumps(dict(r.attrs), option=orjson.OPT_SORT_KEYS).decode(),
        }
        for r in records
    ]
    return pa.Table.from_pylist(rows, schema=RECORDS_SCHEMA)
