"""NumPy and Arrow values converted over their buffers, without pandas.

Given a Python value (``pa.scalar``, ``pa.array``, or a compute function's argument), and in
``to_numpy`` of some arrays, pyarrow first imports pandas, when it is installed, to ask whether
the value is a pandas object: 0.3 s of a command's start, or before an ingest's first batch.
These conversions ask nothing (tests hold identifier checks and ingest validation to importing
no pandas).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

__all__ = ["booleans", "flags", "int64s", "integers", "scalar"]


def scalar(value: bool | int | str, kind: pa.DataType | None = None) -> pa.Scalar:
    """``value`` as an Arrow scalar (boolean, int64 or string), or of type ``kind``: a compute
    function that wants its array's type (``fill_null``) otherwise makes one with
    ``pa.scalar``."""
    if isinstance(value, str):
        text = value.encode()
        ends = np.array([0, len(text)], dtype=np.int32)
        made = pa.Array.from_buffers(pa.string(), 1, [None, pa.py_buffer(ends), pa.py_buffer(text)])
    else:  # a boolean's one byte holds its bit first
        data = np.array([value], dtype=bool if isinstance(value, bool) else np.int64)
        made = pa.Array.from_buffers(pa.from_numpy_dtype(data.dtype), 1, [None, pa.py_buffer(data)])
    return made[0] if kind is None else made[0].cast(kind)


def int64s(values: np.ndarray) -> pa.Array:
    """NumPy integers as an Arrow ``int64`` array."""
    data = np.ascontiguousarray(values, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(data), [None, pa.py_buffer(data)])


def booleans(values: np.ndarray) -> pa.Array:
    """NumPy booleans as an Arrow boolean array (Arrow packs eight to a byte)."""
    packed = np.packbits(np.asarray(values, dtype=bool), bitorder="little")
    return pa.Array.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(packed)])


def flags(array: pa.Array) -> np.ndarray:
    """An Arrow boolean array as NumPy booleans, a null as false."""
    validity, data = array.buffers()
    end = array.offset + len(array)

    def bits(buffer: pa.Buffer) -> np.ndarray:
        packed = np.frombuffer(buffer, dtype=np.uint8)
        return np.unpackbits(packed, count=end, bitorder="little")[array.offset :].astype(bool)

    return bits(data) & bits(validity) if validity is not None else bits(data)


def integers(array: pa.Array) -> np.ndarray:
    """An Arrow array of signed integers without nulls as NumPy int64."""
    if array.null_count or not pa.types.is_signed_integer(array.type):
        raise ValueError(f"not signed integers without nulls: {array.type}, {array.null_count}")
    data = np.frombuffer(array.buffers()[1], dtype=np.dtype(f"int{array.type.bit_width}"))
    return data[array.offset : array.offset + len(array)].astype(np.int64)
