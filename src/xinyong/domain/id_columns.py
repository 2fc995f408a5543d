"""Canonical subject ids for a whole column at once (a records file of millions of rows).

:func:`canonical_id_column` gives exactly what
:func:`~xinyong.domain.identifiers.canonical_subject_id` gives for every value, row by row, and
refuses the first value it refuses. Only the common case is vectorised: ids that are already
canonical (a valid resident ID or USCC in upper case, or a plain external id) are recognised with
Arrow and NumPy over the distinct values; anything else (lower case, full-width characters,
spaces, invalid numbers) goes through the reference function, which decides it and names what is
wrong. A hypothesis test holds the two to the same answers.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from xinyong.domain.identifiers import (
    MAX_LENGTH,
    USCC_ALPHABET,
    USCC_REGISTRATION,
    IdentifierRefused,
    canonical_subject_id,
)

__all__ = ["RefusedId", "canonical_id_column"]

_RESIDENT_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_RESIDENT_CHECK = np.frombuffer(b"10X98765432", dtype=np.uint8)
_USCC_WEIGHTS = np.array(
    [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28], dtype=np.int64
)
_USCC_CODE = np.full(256, -1, dtype=np.int64)
for _index, _char in enumerate(USCC_ALPHABET):
    _USCC_CODE[ord(_char)] = _index
_USCC_CHAR = np.frombuffer(USCC_ALPHABET.encode(), dtype=np.uint8)
_REGISTRATIONS = np.zeros((256, 256), dtype=bool)
for _authority, _categories in USCC_REGISTRATION.items():
    for _category in _categories:
        _REGISTRATIONS[ord(_authority), ord(_category)] = True
_DAYS = np.array([0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
_OPAQUE = rf"^[A-Za-z0-9][A-Za-z0-9._:@-]{{0,{MAX_LENGTH - 1}}}$"
_BARE_ID = r"^([0-9]{17}[0-9X]|[" + USCC_ALPHABET + r"]{18})$"


class RefusedId(ValueError):
    """A value of the column that is not a subject id: its row (from 0) and the reason."""

    def __init__(self, row: int, reason: str) -> None:
        super().__init__(reason)
        self.row, self.reason = row, reason


def canonical_id_column(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """``column`` (strings) with every value in canonical form; :class:`RefusedId` for the
    first row whose value has none (nulls are left to the caller)."""
    distinct = pc.unique(column).drop_null()
    plain = _already_canonical(distinct)
    if bool(pc.all(plain).as_py() or len(distinct) == 0):
        return column
    values = distinct.to_pylist()
    mapping: dict[str, str] = {}
    for value, ok in zip(values, plain.to_pylist(), strict=True):
        if ok:
            continue
        try:
            canonical = canonical_subject_id(value)
        except IdentifierRefused as exc:
            row = int(pc.index(column, value).as_py())
            raise RefusedId(row, exc.reason) from None
        if canonical != value:
            mapping[value] = canonical
    if not mapping:
        return column
    keys = pa.array(list(mapping), pa.string())
    replaced = pc.take(pa.array(list(mapping.values()), pa.string()), pc.index_in(column, keys))
    return pc.coalesce(replaced, column)


def _already_canonical(values: pa.Array) -> pa.BooleanArray:
    """Which distinct values are canonical ids as they stand (a cheap, exact subset)."""
    alnum18 = pc.match_substring_regex(values, r"^[0-9A-Za-z]{18}$")
    bare = pc.utf8_upper(pc.replace_substring_regex(values, r"[._:@-]", ""))
    separated = pc.match_substring_regex(bare, _BARE_ID)  # an id with separators put in
    number_like = pc.match_substring_regex(values, r"^[0-9Xx]{15,19}$")
    opaque = pc.and_(
        pc.match_substring_regex(values, _OPAQUE),
        pc.invert(pc.or_(pc.or_(alnum18, separated), number_like)),
    )
    result = opaque.to_numpy(zero_copy_only=False).copy()
    upper18 = pc.match_substring_regex(values, r"^[0-9A-Z]{18}$")
    shaped = np.flatnonzero(upper18.to_numpy(zero_copy_only=False))
    if len(shaped):
        numbers = np.array(values.take(pa.array(shaped)).to_pylist(), dtype="S18")
        result[shaped] = _valid_numbers(numbers.view(np.uint8).reshape(-1, 18))
    return pa.array(result, pa.bool_())


def _valid_numbers(chars: np.ndarray) -> np.ndarray:
    """Rows of 18 bytes that are a valid resident ID or USCC, exactly as written."""
    digits = (chars >= ord("0")) & (chars <= ord("9"))
    resident = digits[:, :17].all(axis=1) & (digits[:, 17] | (chars[:, 17] == ord("X")))
    values = np.where(digits, chars.astype(np.int64) - ord("0"), 0)
    check = _RESIDENT_CHECK[(values[:, :17] @ _RESIDENT_WEIGHTS) % 11]
    year = values[:, 6:10] @ np.array([1000, 100, 10, 1])
    month = values[:, 10] * 10 + values[:, 11]
    day = values[:, 12] * 10 + values[:, 13]
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    last = np.where((month == 2) & ~leap, 28, _DAYS[np.clip(month, 0, 12)])
    dated = (year >= 1800) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= last)
    valid_resident = resident & dated & (check == chars[:, 17])
    codes = _USCC_CODE[chars]
    uscc = (codes >= 0).all(axis=1) & _REGISTRATIONS[chars[:, 0], chars[:, 1]]
    uscc &= digits[:, 2:8].all(axis=1)
    expected = _USCC_CHAR[(31 - (np.where(codes < 0, 0, codes)[:, :17] @ _USCC_WEIGHTS) % 31) % 31]
    valid_uscc = uscc & (expected == chars[:, 17])
    return np.asarray(valid_resident | valid_uscc)
