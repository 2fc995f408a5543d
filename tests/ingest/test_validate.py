"""Record validation: the fast path never disagrees with the field-by-field checks."""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from xinyong.domain.catalog import load_catalog
from xinyong.domain.identifiers import synthetic_resident_id, synthetic_uscc
from xinyong.ingest.validate import RecordValidator

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
