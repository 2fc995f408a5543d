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

from xinyong.domain.arrow_buffers import booleans, flags, int64s
from xinyong.domain.identifiers import (
    MAX_LENGTH,
    USCC_ALPHABET,
    USCC_REGISTRATION,
    IdentifierRefused,
    canonical_subject_id,
)

__all__ = ["RefusedId", "all_canonical", "canonical_for_kinds", "canonical_id_column"]

_RESIDENT_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_RESIDENT_CHECK = np.frombuffer(b"10X98765432", dtype=np.uint8)
_USCC_WEIGHTS = np.array(
    [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28], dtype=np.int64
)
_USCC_CODE = np.full(256, -1, dtype=np.int8)
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


def all_canonical(distinct: pa.Array | pa.ChunkedArray) -> bool:
    """Whether every value of ``distinct`` (distinct, non-null ids) is canonical as it stands,
    as :func:`canonical_id_column` would leave it; False also for values it would refuse."""
    values = distinct.combine_chunks() if isinstance(distinct, pa.ChunkedArray) else distinct
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        values = values.cast(pa.string())
    return bool(pc.all(_already_canonical(values)).as_py() or len(values) == 0)


def canonical_for_kinds(distinct: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """For each value of ``distinct`` (strings, no nulls): whether it is a person's canonical id
    as it stands, and whether it is an organization's (what
    :func:`~xinyong.domain.identifiers.canonical_subject_id` with that kind gives back
    unchanged). A yes is always right; a no may be needless, and leaves the value to that
    function."""
    shaped, rows, rest = _split(distinct)
    digits = _digits(rows)
    person = np.zeros(len(distinct), dtype=bool)
    person[shaped] = _valid_resident(rows, digits)
    organization = np.zeros(len(distinct), dtype=bool)
    organization[shaped] = _valid_uscc(rows, digits)
    if len(rest):
        opaque = _opaque(distinct.take(int64s(rest)))
        person[rest] = opaque
        organization[rest] = opaque
    return person, organization


def _already_canonical(values: pa.Array) -> pa.Array:
    """Which distinct values are canonical ids as they stand (a cheap, exact subset).

    The common value, 18 upper-case letters and digits, is recognised in its bytes and decided
    by its check character alone; only the others go through the patterns of opaque and
    separated ids."""
    shaped, rows, rest = _split(values)
    result = np.zeros(len(values), dtype=bool)
    result[shaped] = _valid_numbers(rows)
    if len(rest):
        result[rest] = _opaque(values.take(int64s(rest)))
    return booleans(result)


def _split(values: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The values of 18 upper-case ASCII letters and digits (their indices, and their bytes as
    rows of 18), and the indices of the others."""
    offsets = _offsets(values)
    lengths = np.diff(offsets)
    sized = np.flatnonzero(lengths == 18)
    data = np.frombuffer(values.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    if len(sized) < len(values):  # keep the bytes of the 18-byte values only
        data = data[np.repeat(lengths == 18, lengths)]
    rows = data.reshape(-1, 18)
    upper = ((rows >= ord("0")) & (rows <= ord("9"))) | ((rows >= ord("A")) & (rows <= ord("Z")))
    whole = upper.all(axis=1)
    others = np.ones(len(values), dtype=bool)
    others[sized[whole]] = False
    return sized[whole], rows[whole], np.flatnonzero(others)


def _opaque(values: pa.Array) -> np.ndarray:
    """Which values are plain external ids: not shaped like a resident ID or USCC, written
    with or without separators, nor like a mistyped number."""
    alnum18 = pc.match_substring_regex(values, r"^[0-9A-Za-z]{18}$")
    bare = pc.utf8_upper(pc.replace_substring_regex(values, r"[._:@-]", ""))
    separated = pc.match_substring_regex(bare, _BARE_ID)  # an id with separators put in
    number_like = pc.match_substring_regex(values, r"^[0-9Xx]{15,19}$")
    opaque = pc.and_(
        pc.match_substring_regex(values, _OPAQUE),
        pc.invert(pc.or_(pc.or_(alnum18, separated), number_like)),
    )
    return flags(opaque)


def _offsets(values: pa.Array) -> np.ndarray:
    """The string array's value offsets, from its first value to one past its last."""
    wide = pa.types.is_large_string(values.type)
    return np.frombuffer(values.buffers()[1], dtype=np.int64 if wide else np.int32)[
        values.offset : values.offset + len(values) + 1
    ]


def _weighted(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The sum over the first ``len(weights)`` columns of ``values`` times their weights."""
    total = np.zeros(len(values), dtype=np.int64)
    for column, weight in enumerate(weights.tolist()):
        total += values[:, column].astype(np.int64) * weight
    return total


def _digits(chars: np.ndarray) -> np.ndarray:
    return (chars >= ord("0")) & (chars <= ord("9"))


def _valid_numbers(chars: np.ndarray) -> np.ndarray:
    """Rows of 18 bytes that are a valid resident ID or USCC, exactly as written.

    The arithmetic stays in bytes and goes column by column, and only the rows that are not
    resident IDs are tried as USCCs, so that a million ids cost a few arrays of a million
    values, not of 18 million int64."""
    digits = _digits(chars)
    valid = _valid_resident(chars, digits)
    rest = np.flatnonzero(~valid)
    if len(rest):
        valid[rest] = _valid_uscc(chars[rest], digits[rest])
    return valid


def _valid_resident(chars: np.ndarray, digits: np.ndarray) -> np.ndarray:
    """Rows of 18 bytes that are a valid resident ID, exactly as written."""
    resident = digits[:, :17].all(axis=1) & (digits[:, 17] | (chars[:, 17] == ord("X")))
    values = np.where(digits, chars - np.uint8(ord("0")), np.uint8(0))
    check = _RESIDENT_CHECK[_weighted(values, _RESIDENT_WEIGHTS) % 11]
    year, month, day = (_weighted(values[:, start:], place) for start, place in _DATE_FIELDS)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    last = np.where((month == 2) & ~leap, 28, _DAYS[np.clip(month, 0, 12)])
    dated = (year >= 1800) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= last)
    return np.asarray(resident & dated & (check == chars[:, 17]))


_DATE_FIELDS = (
    (6, np.array([1000, 100, 10, 1])),
    (10, np.array([10, 1])),
    (12, np.array([10, 1])),
)
"""Where a resident ID's birth year, month and day start, and their digits' place values."""


def _valid_uscc(chars: np.ndarray, digits: np.ndarray) -> np.ndarray:
    """Rows of 18 bytes that are a valid USCC, exactly as written."""
    codes = _USCC_CODE[chars]
    uscc = (codes >= 0).all(axis=1) & _REGISTRATIONS[chars[:, 0], chars[:, 1]]
    uscc &= digits[:, 2:8].all(axis=1)
    total = _weighted(np.where(codes < 0, np.int8(0), codes), _USCC_WEIGHTS)
    expected = _USCC_CHAR[(31 - total % 31) % 31]
    return np.asarray(uscc & (expected == chars[:, 17]))
