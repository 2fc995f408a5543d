"""Arrow values made from and read into NumPy over their buffers, as pyarrow's own conversions
make and read them."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given
from hypothesis import strategies as st

from xinyong.domain.arrow_buffers import booleans, flags, int64s, integers, scalar


@given(st.one_of(st.booleans(), st.integers(-(2**63), 2**63 - 1), st.text()))
def test_a_scalar_is_what_pa_scalar_makes(value: bool | int | str) -> None:
    made = scalar(value)
    assert made == pa.scalar(value)
    assert made.type == pa.scalar(value).type
    assert made.as_py() == value


def test_a_scalar_takes_the_type_asked_for() -> None:
    assert scalar(7, pa.int32()) == pa.scalar(7, pa.int32())
    indices = pc.dictionary_encode(pa.array(["a", None])).indices
    filled = pc.fill_null(indices, scalar(9, indices.type))
    assert filled.to_pylist() == [0, 9]


@given(st.lists(st.one_of(st.none(), st.booleans())), st.integers(0, 3))
def test_flags_read_booleans_with_a_null_as_false(values: list[bool | None], cut: int) -> None:
    array = pa.array(values, pa.bool_()).slice(min(cut, len(values)))
    expected = [bool(value) for value in array.to_pylist()]
    assert flags(array).tolist() == expected
    assert booleans(np.array(expected, dtype=bool)).to_pylist() == expected


@given(st.lists(st.integers(-(2**31), 2**31 - 1)), st.integers(0, 3))
def test_integers_read_as_numpy_does(values: list[int], cut: int) -> None:
    for kind in (pa.int32(), pa.int64()):
        array = pa.array(values, kind).slice(min(cut, len(values)))
        assert integers(array).tolist() == array.to_pylist()
    assert int64s(np.array(values, dtype=np.int64)).to_pylist() == values


def test_integers_refuse_nulls_and_other_types() -> None:
    with pytest.raises(ValueError, match="without nulls"):
        integers(pa.array([1, None], pa.int32()))
    with pytest.raises(ValueError, match="signed integers"):
        integers(pa.array([1], pa.uint8()))
