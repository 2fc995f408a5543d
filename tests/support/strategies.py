"""Hypothesis strategies for schemes and records that exercise every feature of the semantics."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hypothesis import strategies as st

from xinyong.domain.durations import add_months
from xinyong.domain.identifiers import synthetic_resident_id

CODES = [
    "court.defaulter",
    "court.performed",
    "finance.default",
    "finance.repaid",
    "finance.loan.late",
    "tax.evasion",
    "civic.blood",
    "consent.given",
    "consent.withdrawn",
]
PATTERNS = ["*", "court.*", "finance.*", "finance.loan.*", "tax.*", "civic.*", *CODES]
ATTRS = ["amount", "channel", "flag", "n"]
AS_OF = date(2024, 6, 30)
TERMS = ["0d", "30d", "2w", "0m", "1m", "6m", "13m", "1y", "400d", "2y", "3y"]
"""The rules' ``valid_for``: days, weeks, and calendar months and years."""
TERMS_FROM = [
    {"attr": "n", "unit": "y", "default": "2y", "max": "5y"},
    {"attr": "n", "unit": "m", "default": "1m", "max": "13m"},
    {"attr": "n", "unit": "y", "default": "6m", "max": "3y"},
    {"attr": "amount", "unit": "d", "default": "30d", "max": "400d"},
    {"attr": "n", "unit": "w", "default": "2w", "max": "20w"},
    {"attr": "n", "unit": "y", "default": "0y", "max": "0y"},
]
"""``valid_for`` read from a record's attribute (``n`` is often a small whole number)."""
MONTH_ENDS = [
    date(2024, 2, 29),
    date(2024, 3, 31),
    date(2024, 1, 31),
    date(2023, 12, 31),
    date(2025, 2, 28),
    date(2024, 6, 30),
    date(2024, 4, 30),
]
"""As-of dates where calendar terms clamp: month ends, and 29 February."""
SUBJECTS = [
    "s1",
    "s2",
    "s3",
    "s4",
    "s5",
    synthetic_resident_id(3702, date(2006, 6, 30), 1),  # 18 on AS_OF, that very day
    synthetic_resident_id(3702, date(2006, 7, 1), 2),  # 18 the day after
    synthetic_resident_id(3702, date(1990, 1, 1), 3),
]
"""Subject ids: four without an age (not resident IDs) and three resident IDs around the
eighteenth birthday on :data:`AS_OF`."""

literal = st.one_of(
    st.integers(-5, 20_000).map(float),
    st.sampled_from([0.5, 10_000.0, -1.25]),
    st.sampled_from(["online", "branch", "", "O'Brien", "10000"]),
    st.booleans(),
)


def _lit_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if value != int(value) else str(int(value))
    text = str(value).replace("'", "''")
    return f"'{text}'"


@st.composite
def _atom(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(ATTRS))
    kind = draw(st.sampled_from(["cmp", "cmp", "cmp", "in", "null", "rcmp"]))
    if kind == "cmp":
        op = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">=", "<>"]))
        return f"{name} {op} {_lit_text(draw(literal))}"
    if kind == "rcmp":
        op = draw(st.sampled_from(["<", ">=", "="]))
        return f"{_lit_text(draw(literal))} {op} {name}"
    if kind == "in":
        values = draw(st.lists(literal, min_size=1, max_size=3))
        neg = draw(st.sampled_from(["", "not "]))
        return f"{name} {neg}in ({', '.join(_lit_text(v) for v in values)})"
    neg = draw(st.sampled_from(["", "not "]))
    return f"{name} is {neg}null"


predicate = st.recursive(
    _atom(),
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda p: f"({p[0]}) and ({p[1]})"),
        st.tuples(inner, inner).map(lambda p: f"({p[0]}) OR ({p[1]})"),
        inner.map(lambda p: f"not ({p})"),
    ),
    max_leaves=4,
)


def _rule(draw: st.DrawFn, i: int, grades: list[str], attributed: bool) -> dict[str, Any]:
    """Rule ``i`` of a drawn scheme (``attributed``: most read their points or their term
    from the record's attributes, and few have a predicate)."""
    often = 3 if attributed else 1  # in four
    points = draw(
        st.one_of(st.integers(-120, 60).map(float), st.sampled_from([-12.5, 0.25, -0.125, 33.3]))
    )
    rule: dict[str, Any] = {
        "id": f"r{i}",
        "match": draw(st.sampled_from(PATTERNS)),
        "points": points,
    }
    if draw(st.integers(0, 3)) < often:  # points per unit of an attribute
        per: dict[str, Any] = {"per": draw(st.sampled_from(["n", "n", "amount"])), "each": points}
        per["max_units"] = draw(st.sampled_from([1.0, 3.0, 2.5, 100.0, 1e6]))
        rule["points"] = per
    if attributed and draw(st.integers(0, 3)) < often:
        rule["valid_for"] = draw(st.sampled_from(TERMS_FROM))
        if draw(st.booleans()):
            rule["decay"] = "linear"
    elif draw(st.booleans()):
        rule["valid_for"] = draw(st.sampled_from(TERMS + TERMS_FROM))
        if draw(st.booleans()):
            rule["decay"] = "linear"
    if draw(st.booleans()):
        rule["cap"] = float(draw(st.integers(0, 150)))
    if draw(st.integers(0, 3)) < (1 if attributed else 2):
        rule["when"] = draw(predicate)
    if draw(st.booleans()):
        rule["cleared_by"] = draw(st.lists(st.sampled_from(CODES), min_size=1, max_size=2))
    if draw(st.integers(0, 3)) == 0:
        rule["veto"] = draw(st.sampled_from(grades))
    elif draw(st.integers(0, 3)) == 0:
        rule["grade"] = draw(st.sampled_from(grades))
    return rule


@st.composite
def schemes(draw: st.DrawFn, attributed: bool = False) -> dict[str, Any]:
    """A scheme as the dict a TOML file would parse to (``attributed``: its rules read their
    points and terms from the records, see :func:`_rule`)."""
    n_grades = draw(st.integers(1, 4))
    mins = sorted(
        draw(
            st.lists(
                st.integers(800, 1100), min_size=n_grades - 1, max_size=n_grades - 1, unique=True
            )
        ),
        reverse=True,
    )
    names = ["AAA", "A", "C", "D"][:n_grades]
    grades = [{"name": n, "min": float(m)} for n, m in zip(names, mins, strict=False)]
    grades.append({"name": names[-1]})
    if draw(st.integers(0, 2)) == 0:  # a grade only rules give, anywhere in the order
        grades.insert(draw(st.integers(0, len(grades))), {"name": "M", "assigned": True})
        names = [*names, "M"]
    rules = [_rule(draw, i, names, attributed) for i in range(draw(st.integers(0, 5)))]
    rule_ids = [r["id"] for r in rules]
    lists = []
    for i in range(draw(st.integers(0, 3))):
        lists.append(
            {
                "id": f"l{i}",
                "kind": draw(st.sampled_from(["black", "red"])),
                "grades": draw(st.lists(st.sampled_from(names), max_size=2, unique=True)),
                "rules": draw(st.lists(st.sampled_from(rule_ids), max_size=2, unique=True))
                if rule_ids
                else [],
            }
        )
    list_ids = [x["id"] for x in lists]
    measures = []
    for i in range(draw(st.integers(0, 3))):
        measures.append(
            {
                "id": f"m{i}",
                "kind": draw(st.sampled_from(["sanction", "reward"])),
                "lists": draw(st.lists(st.sampled_from(list_ids), max_size=2, unique=True))
                if list_ids
                else [],
                "grades": draw(st.lists(st.sampled_from(names), max_size=2, unique=True)),
                "basis": "test basis",
            }
        )
    scheme: dict[str, Any] = {
        "id": "gen",
        "name": "generated",
        "base": float(draw(st.sampled_from([0, 100, 1000, 1000.5]))),
        "grades": grades,
        "rules": rules,
        "lists": lists,
        "measures": measures,
    }
    kinds = draw(st.sampled_from([None, ["person"], ["organization"], ["person", "organization"]]))
    if kinds is not None:
        scheme["subject_kinds"] = kinds
    eligibility = draw(
        st.sampled_from(
            [
                None,
                None,
                {"min_age": 18},
                {"consent": "required"},
                {"min_age": 18, "consent": "required"},
                {"min_age": 34},
            ]
        )
    )
    if eligibility is not None:
        scheme["eligibility"] = eligibility
    if draw(st.booleans()):
        scheme["floor"] = float(draw(st.sampled_from([0, 900, 950])))
    if draw(st.booleans()):
        scheme["ceiling"] = float(draw(st.sampled_from([1000, 1050, 1200])))
        if scheme.get("floor", 0) > scheme["ceiling"]:
            del scheme["floor"]
    return scheme


attr_value = st.one_of(
    # Terms and units: small whole numbers, a fraction, a whole float, a negative.
    st.sampled_from([0, 1, 2, 3, 4, 5, 6, 12, 13, 1.5, 2.0, -1, 1e300, -1e300, -0.0, 5e-324]),
    st.integers(-5, 20_000),
    st.floats(-10, 20_000, allow_nan=False, allow_infinity=False),
    # Strings that look like other JSON types must stay strings ("null" is not null).
    st.sampled_from(["online", "branch", "", "O'Brien", "10000", "null", "true"]),
    st.booleans(),
    st.none(),
)


units = st.sampled_from(
    [0, 1, 2, 3, 3, 5, 6, 12, 2.5, 2.0, 7, -1, None, "3", 1e300, -1e300, 5e-324, 1e-310]
)
"""Values of ``n``: whole numbers around the terms' and units' limits, ones that give none, and
subnormal ones (a product with them can round to 0, which PostgreSQL refuses)."""


# Ages on and around every valid_for boundary the schemes use, and some in the future.
ages = st.one_of(
    st.integers(-40, 1300),
    st.sampled_from(
        [
            -1,
            0,
            1,
            13,
            14,
            15,
            29,
            30,
            31,
            179,
            180,
            181,
            364,
            365,
            366,
            399,
            400,
            401,
            1094,
            1095,
            1096,
        ]
    ),
)


def _calendar_ages(as_of: date) -> list[int]:
    """Ages (days before ``as_of``) of the records whose calendar terms end on or next to
    ``as_of``: k months back, a day either side, for every term the schemes use."""
    found: set[int] = set()
    for months in (1, 6, 12, 13, 24, 36):
        back = (as_of - add_months(as_of, -months)).days
        found.update((back - 1, back, back + 1, back + 2))
    return sorted(found)


@st.composite
def records(draw: st.DrawFn, as_of: date = AS_OF) -> list[dict[str, Any]]:
    """Records of a few subjects, with shared case ids and missing attributes; their dates
    biased to the ends of the terms the schemes use, counted from ``as_of``."""
    dated = st.one_of(ages, st.sampled_from(_calendar_ages(as_of)))
    rows: list[dict[str, Any]] = []
    kinds = {s: draw(st.sampled_from(["person", "organization"])) for s in SUBJECTS}
    for i in range(draw(st.integers(0, 30))):
        subject = draw(st.sampled_from(SUBJECTS))
        rows.append(
            {
                "record_id": f"R{i}",
                "source": "test",
                "subject_id": subject,
                "subject_kind": kinds[subject],
                "code": draw(st.sampled_from(CODES)),
                "occurred_at": as_of - timedelta(days=draw(dated)),
                "case_id": draw(st.sampled_from([None, "", "c1", "c2", "c3"])),
                "attrs": draw(st.dictionaries(st.sampled_from(ATTRS), attr_value, max_size=4)),
            }
        )
        if draw(st.booleans()):  # a term or a count, as the rules that read ``n`` expect
            rows[-1]["attrs"]["n"] = draw(units)
    return rows
