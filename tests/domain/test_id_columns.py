"""The vectorised canonical ids of a records file equal the reference function's, row by row."""

from __future__ import annotations

import string
from datetime import date

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.identifier_strategies import spelled
from xinyong.domain.id_columns import (
    RefusedId,
    all_canonical,
    canonical_for_kinds,
    canonical_id_column,
)
from xinyong.domain.identifiers import (
    USCC_ALPHABET,
    USCC_REGISTRATION,
    IdentifierRefused,
    canonical_subject_id,
    resident_id_check_digit,
    synthetic_resident_id,
    uscc_check_char,
)


@st.composite
def resident_ids(draw: st.DrawFn) -> str:
    birth = draw(st.dates(date(1790, 1, 1), date(2030, 12, 31)))
    first17 = f"{draw(st.integers(0, 999_999)):06d}{birth:%Y%m%d}{draw(st.integers(0, 999)):03d}"
    return first17 + resident_id_check_digit(first17)


@st.composite
def usccs(draw: st.DrawFn) -> str:
    known = [a + c for a, categories in USCC_REGISTRATION.items() for c in categories]
    head = draw(st.one_of(st.sampled_from(known), st.text(USCC_ALPHABET, min_size=2, max_size=2)))
    division = draw(st.text(string.digits + "AB", min_size=6, max_size=6))
    first17 = head + division + draw(st.text(USCC_ALPHABET, min_size=9, max_size=9))
    return first17 + uscc_check_char(first17)


def _mutated(number: str) -> st.SearchStrategy[str]:
    return st.one_of(
        st.just(number),
        spelled(number),
        st.integers(0, 17).flatmap(
            lambda i: st.sampled_from("0123456789XABZ-. ").map(
                lambda c: number[:i] + c + number[i + 1 :]
            )
        ),
        st.sampled_from([f"{number[:6]}-{number[6:]}", number.lower(), number + "1"]),
    )


values = st.one_of(
    resident_ids().flatmap(_mutated),
    usccs().flatmap(_mutated),
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,20}", fullmatch=True),
    st.text(max_size=20),
)


def _reference(column: list[str]) -> list[str] | tuple[int, str]:
    out = []
    for row, value in enumerate(column):
        try:
            out.append(canonical_subject_id(value))
        except IdentifierRefused as exc:
            return (row, exc.reason)
    return out


@settings(max_examples=400, deadline=None)
@given(st.lists(values, min_size=1, max_size=30))
def test_the_column_agrees_with_the_reference(column: list[str]) -> None:
    expected = _reference(column)
    try:
        got: list[str] | tuple[int, str] = canonical_id_column(
            pa.chunked_array([pa.array(column, pa.string())])
        ).to_pylist()
    except RefusedId as exc:
        got = (exc.row, exc.reason)
    assert got == expected


@settings(max_examples=400, deadline=None)
@given(st.lists(values, min_size=0, max_size=30, unique=True), st.booleans())
def test_all_canonical_is_true_only_when_the_reference_leaves_every_id(
    distinct: list[str], wide: bool
) -> None:
    """What the scan asks of the ids it found (distinct, in large or small string arrays): a
    yes is always right; a no may be a needless look at the ids one by one (for example
    ``12345678901234XX``, kept as an external id, which the cheap test does not decide)."""
    kept = _reference(distinct) == distinct
    array = pa.array(distinct, pa.large_string() if wide else pa.string())
    answer = all_canonical(array)
    assert answer is all_canonical(pa.chunked_array([array[:3], array[3:]]))
    assert not answer or kept
    if all(len(v) == 18 or not v[:1].isdigit() for v in distinct):
        assert answer is kept


def _kept(value: str, kind: str) -> bool:
    try:
        return canonical_subject_id(value, kind) == value
    except IdentifierRefused:
        return False


BOTH = "791236197402275616"
"""All digits, a valid resident ID and a valid USCC."""


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(values, st.just(BOTH)), max_size=30, unique=True), st.booleans())
def test_an_id_is_canonical_for_a_kind_only_when_the_reference_keeps_it(
    distinct: list[str], wide: bool
) -> None:
    """What an ingest asks of each batch's distinct ids: a yes is always right; a no may be a
    needless look at the id by the reference (as for :func:`all_canonical`)."""
    array = pa.array(distinct, pa.large_string() if wide else pa.string())
    person, organization = canonical_for_kinds(array[1:] if wide else array)
    checked = distinct[1:] if wide else distinct  # an array that starts at an offset
    for value, as_person, as_organization in zip(checked, person, organization, strict=True):
        for answer, kind in ((as_person, "person"), (as_organization, "organization")):
            kept = _kept(value, kind)
            assert not answer or kept
            if len(value) == 18 or not value[:1].isdigit():
                assert answer == kept, (value, kind)


def test_an_id_valid_as_both_numbers_is_canonical_for_both_kinds() -> None:
    person, organization = canonical_for_kinds(pa.array([BOTH, "ext:1", "bad id"]))
    assert person.tolist() == [True, True, False]
    assert organization.tolist() == [True, True, False]


def test_a_canonical_column_is_returned_as_it_is() -> None:
    ids = [synthetic_resident_id(1, date(1990, 1, 1), n) for n in range(50)] + ["ext:a"]
    column = pa.chunked_array([pa.array(ids)])
    assert canonical_id_column(column) is column


def test_the_first_refused_row_is_named() -> None:
    good = synthetic_resident_id(1, date(1990, 1, 1), 1)
    column = pa.chunked_array([pa.array([good, good.lower(), "bad id", "also bad!"])])
    with pytest.raises(RefusedId) as refused:
        canonical_id_column(column)
    assert (refused.value.row, refused.value.reason) == (2, "bad character ' ' at position 4")
