"""Record validation: the fast path never disagrees with the field-by-field checks."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from xinyong.domain.catalog import load_catalog
from xinyong.domain.identifiers import synthetic_resident_id, synthetic_uscc
from xinyong.domain.row_problem import RowProblem
from xinyong.ingest.validate import RecordValidator, parse_attrs

CATALOG = load_catalog()
PERSON = synthetic_resident_id(1, date(1980, 1, 2), 11)
ORG = synthetic_uscc(2, 5)

text = st.one_of(
    st.sampled_from(["r1", " r1", "r1 ", "", "a\tb", "x\u3000", "正常", "a" * 201]),
    st.text(max_size=6),
)
row = st.fixed_dictionaries(
    {
        "record_id": st.one_of(text, st.integers(0, 5), st.none()),
        "subject_id": st.sampled_from(
            [PERSON, ORG, PERSON.lower(), " " + PERSON, "ext:1", "", PERSON[:-1] + "0", 123]
        ),
        "subject_kind": st.sampled_from(["person", "organization", "alien", None]),
        "code": st.sampled_from(
            [
                "court.defaulter",
                "tax.evasion",
                "market.abnormal_operations",
                "relation.legal_representative",
                "relation.other",
                "nope.x",
                "Bad",
                None,
            ]
        ),
        "occurred_at": st.sampled_from(
            ["2024-01-02", "2024-02-30", "02/01/2024", "", date(2024, 1, 2), date(2999, 1, 1), None]
        ),
        "source": st.sampled_from(["court", " court", "", None, "bad source"]),
        "case_id": st.one_of(text, st.none()),
        "attrs": st.sampled_from(
            [
                '{"amount": 5}',
                '{"amount": "x"}',
                '{"religion": 1}',
                "",
                None,
                "{}",
                '{"b": 1, "a": [1]}',
                "{bad",
                '{"b": 2, "a": true}',
                '{"b":2,"a":true}',
                '{"term_years":3,"amount":5}',
                '{"term_years":3,"amount":5,"term_years":3}',
                '{"obligation":"\\u0001","amount":5}',
                '{"obligation":"x\\u0085","amount":5}',
                '{"amount":null,"obligation":null}',
                '{"amount":5}',
                '{"amount":5.0}',
                '{"amount":1e5}',
                '{"amount":5,"amount":6}',
                '{"amount":18446744073709551616}',
                '{"amount":-9223372036854775809}',
                '{"note":"\\u0001"}',
                '{"note":"\\u0085"}',
                '{"note":"\\t"}',
                '{"note":"\\ud800"}',
                '{"amount":NaN}',
                {"amount": 5},
                {"term_years": 3, "amount": 5},
                {1: 2},
                {True: 1},
                {"channel": "a\x00b"},
                {"\x01": 1},
                {"person": PERSON.lower()},
                {"person": ORG},
                {"person": PERSON, "until": "2024-01-02"},
                {"person": PERSON, "until": "2023-12-31"},
            ]
        ),
        "evidence": st.one_of(text, st.none()),
    }
)


@settings(max_examples=400, deadline=None)
@given(rows=st.lists(row, min_size=1, max_size=8), forced=st.sampled_from([None, "court"]))
def test_fast_path_agrees(rows: list[dict[str, Any]], forced: str | None) -> None:
    validator = RecordValidator(CATALOG, source=forced, today=date(2025, 1, 1))
    for raw in rows * 2:  # the second pass finds the caches warm
        fast = validator._fast(raw)
        checked = validator._checked(raw)
        if fast is not None:
            assert fast == checked
        assert validator.validate(raw) == validator._linked(checked)


def test_a_relation_names_a_person_in_canonical_form_with_a_well_formed_end() -> None:
    validator = RecordValidator(CATALOG, source="registry", today=date(2026, 1, 1))

    def relation(**attrs: Any) -> Any:
        return validator.validate(
            {
                "record_id": "rel",
                "subject_id": ORG,
                "subject_kind": "organization",
                "code": "relation.actual_controller",
                "occurred_at": "2024-01-02",
                "attrs": attrs,
            }
        )

    accepted = relation(person=" " + PERSON.lower(), until="2025-12-31")
    assert '"person":"' + PERSON + '"' in accepted[7]
    for attrs, field in (
        ({}, "attrs.person"),
        ({"person": ORG}, "attrs.person"),  # an organisation is no person
        ({"person": "bad id!"}, "attrs.person"),
        ({"person": PERSON, "until": "20251231"}, "attrs.until"),
        ({"person": PERSON, "until": "2025-02-30"}, "attrs.until"),
        ({"person": PERSON, "until": "2024-01-01"}, "attrs.until"),  # before the start
        ({"person": PERSON, "until": 2025}, "attrs.until"),
    ):
        problem = relation(**attrs)
        assert getattr(problem, "field", None) == field, (attrs, problem)
    assert relation(person=PERSON, until="2024-01-02")[4] == "relation.actual_controller"


def test_a_relation_cannot_name_its_own_organization_and_attrs_hold_no_control_characters() -> None:
    validator = RecordValidator(CATALOG, source="registry", today=date(2026, 1, 1))
    base = {
        "record_id": "rel",
        "subject_id": "ext:acme",
        "subject_kind": "organization",
        "code": "relation.principal",
        "occurred_at": "2024-01-02",
    }
    problem = validator.validate({**base, "attrs": {"person": "ext:acme"}})
    assert getattr(problem, "field", None) == "attrs.person"
    # a mapping's strings are text like JSON's: PostgreSQL's jsonb cannot hold U+0000
    problem = validator.validate({**base, "attrs": {"person": "ext:li", "note": "a\x00b"}})
    assert getattr(problem, "field", None) == "attrs.note"
    assert "U+0000" in getattr(problem, "reason", "")


scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**65), 2**65),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=4),
    st.sampled_from(["\x01", "a\x85", "\x7f", "ok"]),
)
attributes = st.lists(
    st.tuples(
        st.one_of(
            st.sampled_from(["amount", "term_years", "obligation", "religion", "", "a\x01"]),
            st.text(max_size=3),
        ),
        scalar,
    ),
    max_size=4,
)


def _written(pairs: list[tuple[str, Any]], way: str) -> str:
    """JSON object text with ``pairs`` in order (a name may come twice), written one ``way``."""
    if way == "orjson":
        return "{" + ",".join(orjson.dumps(k).decode() + ":" + orjson.dumps(v).decode()
                              for k, v in pairs) + "}"  # fmt: skip
    separators = (",", ":") if way == "json compact" else (", ", ": ")
    return "{" + separators[0].join(
        json.dumps(k) + separators[1] + json.dumps(v, ensure_ascii=way == "json ascii")
        for k, v in pairs
    ) + "}"  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(
    code=st.sampled_from(["court.defaulter", "tax.evasion", "market.abnormal_operations"]),
    pairs=attributes,
    way=st.sampled_from(["orjson", "json compact", "json spaced", "json ascii", "sorted"]),
)
def test_attrs_taken_as_they_are_are_what_the_strict_reading_gives(
    code: str, pairs: list[tuple[str, Any]], way: str
) -> None:
    """Text that the validator's quick reading of attrs accepts is the canonical text of what
    the strict reading (:func:`parse_attrs`) accepts, whatever the order of the names, the
    spacing, the escapes or a name given twice."""
    if way == "sorted":
        pairs = sorted(dict(pairs).items(), key=lambda item: item[0])
    try:
        attrs = _written(pairs, "orjson" if way == "sorted" else way)
    except (TypeError, ValueError, orjson.JSONEncodeError):  # an integer orjson cannot write
        attrs = _written(pairs, "json compact")
    validator = RecordValidator(CATALOG)
    quick = validator.clean_attrs(code, attrs)
    strict = parse_attrs(attrs, CATALOG.codes[code].attrs, CATALOG.protected_attributes)
    if quick is not None:
        assert isinstance(strict, dict)
        assert quick == orjson.dumps(strict, option=orjson.OPT_SORT_KEYS).decode()
    assert validator.clean_attrs(code, attrs) == quick  # its shapes remembered: the same
    mapping = dict(pairs)
    taken = validator.clean_attrs(code, mapping)
    if taken is not None:
        expected = parse_attrs(mapping, CATALOG.codes[code].attrs, CATALOG.protected_attributes)
        assert isinstance(expected, dict)
        assert taken == orjson.dumps(expected, option=orjson.OPT_SORT_KEYS).decode()


class _Name(str):
    """A str subclass, as a caller's own types may be: orjson cannot write it as a name."""


def test_an_attribute_name_that_is_not_a_plain_str_is_refused_with_a_reason() -> None:
    validator = RecordValidator(CATALOG)
    assert validator.clean_attrs("tax.evasion", {"amount": 5}) == '{"amount":5}'
    assert validator.clean_attrs("tax.evasion", {_Name("amount"): 5}) is None  # shape cached
    refused = parse_attrs({_Name("amount"): 5}, CATALOG.codes["tax.evasion"].attrs, frozenset())
    assert refused == RowProblem("attrs", "attribute name 'amount': not text")
