"""Validating a whole Arrow batch of records at once (the Parquet path of an ingest).

The checks that look at one column (text without control characters or outer whitespace, a
length limit, a date in range) run over the column in Arrow; those that depend on a value
(a subject id and its kind, a code, a source, a date given as text) run once per distinct value
through :class:`~xinyong.ingest.validate.RecordValidator`'s own cached checks. Each row then
either comes out as the record row :meth:`RecordValidator.validate` would give it, or as None:
something about it is unusual (a rejected field, a value to normalise, a rating or a relation,
whose checks name other subjects), and the caller validates that row alone, which names the
field at fault. A property test holds the two paths to the same rows.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from xinyong.domain.arrow_buffers import flags, integers, scalar
from xinyong.domain.id_columns import canonical_for_kinds
from xinyong.domain.row_problem import RowProblem
from xinyong.ingest.validate import EARLIEST, RecordValidator
from xinyong.ledger.append import RecordRow

__all__ = ["CLEAN_TEXT_RE2", "validate_batch"]

_WHITESPACE = (
    "\\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}"
)
"""The characters above U+0020 that Python's ``str.isspace`` (and so ``strip`` and ``\\s``)
counts as whitespace, as an RE2 class body (a test checks the list against Python)."""
_EDGE = f"[^\\x00-\\x20\\x7f{_WHITESPACE}]"
CLEAN_TEXT_RE2 = f"^{_EDGE}(?:[^\\x00-\\x1f\\x7f]*{_EDGE})?$"
"""The text that :data:`xinyong.ingest.validate.CLEAN_TEXT` matches in full, for Arrow's RE2."""

_STRINGS = (pa.string(), pa.large_string())

_ZERO = scalar(0)
_EPOCH = date(1970, 1, 1)


def validate_batch(validator: RecordValidator, batch: pa.RecordBatch) -> list[RecordRow | None]:
    """For each row of ``batch``, its record row, or None when the row must be validated alone."""
    count = batch.num_rows
    if len(set(batch.schema.names)) != batch.num_columns:  # a name twice: the last one wins
        return [None] * count
    ok = np.ones(count, dtype=bool)
    record_ids = _text(batch, "record_id", 200, True, ok)
    _text(batch, "subject_id", 128, True, ok, values=False)  # the ids come from _subjects
    kinds = _labels(batch, "subject_kind", ok)
    codes = _labels(batch, "code", ok)
    subjects = _subjects(validator, batch, ok)
    days = _dates(validator, batch, ok)
    sources = _sources(validator, batch, ok)
    case_ids = _text(batch, "case_id", 200, False, ok)
    evidence = _text(batch, "evidence", 2000, False, ok)
    attrs = _column(batch, "attrs")
    attr_values: list[Any] = (
        [None] * count if attrs is None or pa.types.is_null(attrs.type) else attrs.to_pylist()
    )
    if not ok.any():
        return [None] * count
    plain = map(validator.plain.__contains__, zip(codes, kinds, strict=True))
    ok &= np.fromiter(plain, bool, count)
    kept = None if ok.all() else np.flatnonzero(ok).tolist()  # most often: every row
    codes, attr_values = _taken(codes, kept), _taken(attr_values, kept)
    texts = list(map(validator.clean_attrs, codes, attr_values))
    made: list[RecordRow | None] = list(
        zip(
            *(_taken(values, kept) for values in (sources, record_ids, subjects, kinds)),
            codes,
            *(_taken(values, kept) for values in (days, case_ids)),
            texts,
            _taken(evidence, kept),
            strict=True,
        )
    )
    if None in texts:  # attrs to be read strictly, and named if refused
        for index, text in enumerate(texts):
            if text is None:
                made[index] = None
    if kept is None:
        return made
    rows: list[RecordRow | None] = [None] * count
    for index, row in zip(kept, made, strict=True):
        rows[index] = row
    return rows


def _taken(values: list[Any], kept: list[int] | None) -> list[Any]:
    """The ``kept`` items of ``values`` (all of them for None)."""
    return values if kept is None else [values[index] for index in kept]


def _column(batch: pa.RecordBatch, name: str) -> pa.Array | None:
    index = batch.schema.get_field_index(name)
    return None if index < 0 else batch.column(index)


def _text(
    batch: pa.RecordBatch,
    name: str,
    limit: int,
    required: bool,
    ok: np.ndarray,
    *,
    values: bool = True,
) -> list[Any]:
    """A text column's values where they are clean text of at most ``limit`` characters (an
    optional column's empty text as None; none at all unless ``values``); rows with anything
    else are marked in ``ok``."""
    column = _column(batch, name)
    if column is None or pa.types.is_null(column.type):
        if required:
            ok[:] = False
        return [None] * batch.num_rows
    if column.type not in _STRINGS:
        ok[:] = False
        return [None] * batch.num_rows
    if not required:
        column = pc.if_else(
            pc.equal(pc.utf8_length(column), _ZERO), pa.nulls(1, column.type)[0], column
        )
    good = pc.and_(
        pc.match_substring_regex(column, CLEAN_TEXT_RE2),
        pc.less_equal(pc.utf8_length(column), scalar(limit)),
    )
    if not required:
        good = pc.or_kleene(pc.is_null(column), good)
    ok &= flags(good)  # a null: not good
    return list(column.to_pylist()) if values else []


def _labels(batch: pa.RecordBatch, name: str, ok: np.ndarray) -> list[Any]:
    """A column of short labels (kind, code) as they are; a row without one is marked."""
    column = _column(batch, name)
    if column is None or column.type not in _STRINGS:
        ok[:] = False
        return [None] * batch.num_rows
    ok &= flags(pc.is_valid(column))
    encoded = pc.dictionary_encode(column)  # one object per distinct label, not one per row:
    labels = np.array([*encoded.dictionary.to_pylist(), None], dtype=object)  # less to pickle
    return list(labels[_indices(encoded, len(labels) - 1)].tolist())


def _subjects(validator: RecordValidator, batch: pa.RecordBatch, ok: np.ndarray) -> list[Any]:
    """Each row's subject id in canonical form; a row whose id is refused for its kind is
    marked. An id already canonical for its kind is recognised in Arrow
    (:func:`~xinyong.domain.id_columns.canonical_for_kinds`); any other is checked by the
    validator, once per distinct id and kind."""
    ids, kinds = _column(batch, "subject_id"), _column(batch, "subject_kind")
    if ids is None or kinds is None or ids.type not in _STRINGS or kinds.type not in _STRINGS:
        ok[:] = False
        return [None] * batch.num_rows
    id_codes, kind_codes = pc.dictionary_encode(ids), pc.dictionary_encode(kinds)
    id_values, kind_values = id_codes.dictionary, kind_codes.dictionary.to_pylist()
    width = len(kind_values) + 1  # the last for a missing kind
    keys = _indices(id_codes, len(id_values)) * width + _indices(kind_codes, width - 1)
    considered = np.flatnonzero(ok)  # not ids already refused (too long, not clean text)
    distinct, index = np.unique(keys[considered], return_inverse=True)
    key_ids, key_kinds = np.divmod(distinct, width)
    person, organization = (
        np.append(answer, False)  # a missing id
        for answer in canonical_for_kinds(id_values)
    )
    named = np.array([*kind_values, None], dtype=object)[key_kinds]
    plain = ((named == "person") & person[key_ids]) | (
        (named == "organization") & organization[key_ids]
    )
    checked: dict[int, str | RowProblem] = {}
    for key in np.flatnonzero(~plain).tolist():  # through the validator, which names the problem
        subject_id, kind = int(key_ids[key]), int(key_kinds[key])
        if subject_id == len(id_values) or kind == width - 1:
            checked[key] = RowProblem("subject_id", "missing")
        else:
            checked[key] = validator.subject_cached(
                id_values[subject_id].as_py(), kind_values[kind]
            )
    refused = np.zeros(len(distinct), dtype=bool)
    for key, value in checked.items():
        refused[key] = isinstance(value, RowProblem)
    ok[considered] &= ~refused[index]
    found: list[Any] = ids.to_pylist()  # an id canonical for its kind is its own canonical form
    for row in np.flatnonzero(~ok).tolist():
        found[row] = None
    unusual = ~plain[index]
    for row, key in zip(considered[unusual].tolist(), index[unusual].tolist(), strict=True):
        found[row] = checked[key]
    return found


def _indices(encoded: pa.DictionaryArray, missing: int) -> np.ndarray:
    """The dictionary indices of ``encoded`` as int64, ``missing`` for a null."""
    return integers(pc.fill_null(encoded.indices, scalar(missing, encoded.indices.type)))


def _dates(validator: RecordValidator, batch: pa.RecordBatch, ok: np.ndarray) -> list[Any]:
    """``occurred_at`` as dates where it is a date in range (a Parquet date, or text checked
    once per distinct value)."""
    column = _column(batch, "occurred_at")
    if column is None:
        ok[:] = False
        return [None] * batch.num_rows
    if pa.types.is_date32(column.type):
        first = (EARLIEST - _EPOCH).days
        last = (validator.today - _EPOCH).days
        days = integers(pc.fill_null(column.cast(pa.int32()), scalar(first - 1, pa.int32())))
        ok &= (days >= first) & (days <= last)
        distinct, index = np.unique(days, return_inverse=True)
        dates = [  # only those in range: others may be beyond Python's dates
            _EPOCH + timedelta(days=day) if first <= day <= last else None
            for day in distinct.tolist()
        ]
        return [dates[i] for i in index.tolist()]
    if column.type not in _STRINGS:
        ok[:] = False
        return [None] * batch.num_rows
    return _by_value(column, validator.day, ok)


def _sources(validator: RecordValidator, batch: pa.RecordBatch, ok: np.ndarray) -> list[Any]:
    """The source of each row: the run's ``--source`` when it has one (a row naming another, or
    naming it with spaces, is marked), else the row's own, checked once per distinct name."""
    column = _column(batch, "source")
    forced = validator.source
    if forced is not None:
        if column is not None and not pa.types.is_null(column.type):
            if column.type not in _STRINGS:
                ok[:] = False
            else:
                same = pc.or_kleene(
                    pc.or_kleene(pc.is_null(column), pc.equal(pc.utf8_length(column), _ZERO)),
                    pc.equal(column, scalar(forced)),
                )
                ok &= ~flags(pc.invert(same))  # a null: the same
        return [forced] * batch.num_rows
    if column is None or column.type not in _STRINGS:
        ok[:] = False
        return [None] * batch.num_rows
    return _by_value(column, validator.source_cached, ok)


def _by_value(column: pa.Array, check: Any, ok: np.ndarray) -> list[Any]:
    """Each row's value as ``check`` gives it for that value, decided once per distinct value;
    rows whose value is null or refused (a :class:`RowProblem`) are marked."""
    encoded = pc.dictionary_encode(column)
    checked = [check(value) for value in encoded.dictionary.to_pylist()]
    refused = np.array([isinstance(value, RowProblem) for value in checked] + [True])
    indices = _indices(encoded, len(checked))
    ok &= ~refused[indices]
    checked.append(None)
    return [checked[index] for index in indices.tolist()]
