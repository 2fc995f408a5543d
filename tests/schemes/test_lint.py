"""The scheme linter: every check, with its location."""

from __future__ import annotations

import pytest

from xinyong.domain.catalog import load_catalog
from xinyong.schemes.issues import SchemeError, Severity
from xinyong.schemes.lint import lint
from xinyong.schemes.load import parse_scheme
from xinyong.schemes.model import PointsPer

HEAD = 'id = "t"\nname = "t"\nbase = 100\n'
GRADES = '[[grades]]\nname = "A"\nmin = 90\n[[grades]]\nname = "D"\n'


def _checks(text: str) -> list[tuple[str, str, int | None]]:
    issues = lint(parse_scheme(text), catalog=load_catalog())
    return [(i.severity.value, i.check, i.line) for i in issues]


def test_clean_scheme_has_no_issues() -> None:
    rule = '[[rules]]\nid = "late"\nmatch = "tax.late_filing"\npoints = -5\nvalid_for = "1y"\n'
    assert _checks(HEAD + GRADES + rule) == []


def test_grade_order() -> None:
    text = (
        HEAD + '[[grades]]\nname = "A"\nmin = 90\n[[grades]]\nname = "B"\nmin = 95\n'
        '[[grades]]\nname = "C"\nmin = 95\n[[grades]]\nname = "X"\n[[grades]]\nname = "D"\n'
    )
    found = _checks(text)
    assert ("error", "grade-order", 9) in found  # B above A
    assert ("warning", "grade-order", 12) in found  # C equal to B: unreachable
    assert ("error", "grade-order", 13) in found  # a grade without min before the last


def test_assigned_grades() -> None:
    grades = (
        '[[grades]]\nname = "A"\nmin = 90\n[[grades]]\nname = "M"\nassigned = true\n'
        '[[grades]]\nname = "N"\nassigned = true\nmin = 50\n'
        '[[grades]]\nname = "Q"\nassigned = true\n[[grades]]\nname = "D"\n'
    )
    rules = (
        '[[rules]]\nid = "new"\nmatch = "tax.new_taxpayer"\npoints = 0\ngrade = "M"\n'
        'valid_for = "1y"\n'
        '[[rules]]\nid = "odd"\nmatch = "tax.no_revenue"\npoints = 0\ngrade = "Z"\n'
        'valid_for = "1y"\n'
    )
    found = _checks(HEAD + grades + rules)
    assert ("error", "assigned-grade", 13) in found  # N: an assigned grade with a min
    assert ("warning", "assigned-grade", 16) in found  # Q: no rule gives it
    assert ("error", "unknown-grade", 29) in found  # grade = "Z"
    # M is reached only by the rule; D, the last scored grade, needs no min
    assert not [f for f in found if f[1] == "grade-order"]
    with pytest.raises(SchemeError, match="not both"):
        parse_scheme(HEAD + GRADES + rules.replace('grade = "Z"', 'grade = "A"\nveto = "D"'))
    with pytest.raises(SchemeError, match="reached by score"):
        parse_scheme(HEAD + '[[grades]]\nname = "M"\nassigned = true\n')


def test_a_measure_extended_in_a_scheme_without_organizations() -> None:
    measure = (
        '[[measures]]\nid = "m"\nkind = "reward"\ngrades = ["A"]\n'
        'extends_to = ["legal_representative"]\n'
    )
    people = HEAD + 'subject_kinds = ["person"]\n' + GRADES + measure
    assert ("warning", "extends-without-organizations", 14) in _checks(people)
    assert not [c for c in _checks(HEAD + GRADES + measure) if c[1].startswith("extends")]
    with pytest.raises(SchemeError, match="extends_to"):
        parse_scheme(HEAD + GRADES + measure.replace("legal_representative", "cousin"))


def test_references_and_duplicates() -> None:
    text = (
        HEAD
        + GRADES
        + (
            '[[rules]]\nid = "r"\nmatch = "*"\npoints = 1\nveto = "Q"\n'
            '[[rules]]\nid = "r"\nmatch = "*"\npoints = 1\n'
            '[[lists]]\nid = "l"\nkind = "black"\nrules = ["nope"]\ngrades = ["Z"]\n'
            '[[measures]]\nid = "m"\nkind = "reward"\nlists = ["missing"]\n'
        )
    )
    checks = {c for _, c, _ in _checks(text)}
    assert {"unknown-grade", "duplicate-id", "unknown-rule", "unknown-list"} <= checks


def test_guardrails() -> None:
    text = (
        HEAD
        + GRADES
        + (
            '[[rules]]\nid = "r"\nmatch = "court.defaulter"\npoints = -5\n'
            "when = \"religion = 'x' or amount > 1\"\n"
            '[[lists]]\nid = "low"\nkind = "black"\ngrades = ["D"]\n'
            '[[measures]]\nid = "m"\nkind = "sanction"\nlists = ["low"]\ngrades = ["D"]\n'
        )
    )
    found = {(s, c) for s, c, _ in _checks(text)}
    assert ("warning", "protected-attribute") in found
    assert ("warning", "no-expiry") in found
    assert ("warning", "bare-score-sanction") in found
    assert ("warning", "sanction-without-basis") in found


def test_unknown_codes_against_the_catalog() -> None:
    text = (
        HEAD + GRADES + '[[rules]]\nid = "r"\nmatch = "made.up"\npoints = 1\n'
        'cleared_by = ["also.made_up"]\n'
    )
    assert [c for _, c, _ in _checks(text)] == ["unknown-code", "unknown-code"]


@pytest.mark.parametrize(
    ("body", "key", "line"),
    [
        ('[[rules]]\nid = "r"\nmatch = "*"\npoints = 1\ndecay = "linear"\n', "", None),
        ('[[rules]]\nid = "r"\nmatch = "a*b"\npoints = 1\n', "match", 11),
        ('[[rules]]\nid = "r"\nmatch = "*"\npoints = 1\nvalid_for = "3q"\n', "valid_for", 13),
        ('[[rules]]\nid = "r"\nmatch = "*"\npoints = 1\nwhen = "a >"\n', "when", 13),
        ('[[rules]]\nid = "r"\nmatch = "*"\npoints = "x"\n', "points", 12),
    ],
)
def test_structural_errors_are_located(body: str, key: str, line: int | None) -> None:
    with pytest.raises(SchemeError) as info:
        parse_scheme(HEAD + GRADES + body)
    issue = info.value.issues[0]
    assert issue.severity is Severity.ERROR
    assert issue.key == key
    if line is not None:
        assert issue.line == line


def test_unknown_top_level_key() -> None:
    with pytest.raises(SchemeError) as info:
        parse_scheme("colour = 1\n" + HEAD + GRADES)
    issue = info.value.issues[0]
    assert (issue.key, issue.line, issue.message) == ("colour", 1, "unknown key")


def test_ids_and_versions() -> None:
    with pytest.raises(SchemeError, match="scheme id"):
        parse_scheme(HEAD.replace('"t"', '"Bad Id"', 1) + GRADES)
    one = parse_scheme(HEAD + GRADES)
    reformatted = parse_scheme("# a comment\n" + HEAD.replace(" = ", "=") + GRADES)
    assert one.version == reformatted.version  # the version hashes meaning, not formatting
    assert one.version != parse_scheme(HEAD.replace("100", "101") + GRADES).version


def _sanction_with_basis(basis: str) -> str:
    return (
        HEAD
        + GRADES
        + '[[rules]]\nid = "r"\nmatch = "court.defaulter"\npoints = -5\nvalid_for = "1y"\n'
        '[[lists]]\nid = "l"\nkind = "black"\nrules = ["r"]\n'
        f'[[measures]]\nid = "m"\nkind = "sanction"\nlists = ["l"]\nbasis = "{basis}"\n'
    )


@pytest.mark.parametrize(
    "basis", ["", " ", "none", "N/A", "n/a.", "TODO", "tbd", "?", "待定", "无"]
)
def test_a_basis_that_names_nothing_is_a_finding(basis: str) -> None:
    checks = [(c, line) for _, c, line in _checks(_sanction_with_basis(basis))]
    assert ("sanction-without-basis", 22) in checks  # the line of basis


@pytest.mark.parametrize(
    "basis",
    [
        "Civil Procedure Law Art. 262",
        "《最高人民法院关于公布失信被执行人名单信息的若干规定》第一条",
        "Nonexistent Act s. 1",
    ],
)
def test_a_basis_that_names_a_law_passes(basis: str) -> None:
    assert "sanction-without-basis" not in {c for _, c, _ in _checks(_sanction_with_basis(basis))}


def test_a_period_beyond_the_catalog_is_no_expiry_and_an_error() -> None:
    from tests.support.findings import FOREVER, LAWFUL

    catalog = load_catalog()
    with_catalog = {(i.severity.value, i.ref) for i in lint(parse_scheme(FOREVER), catalog)}
    assert with_catalog == {
        ("warning", "no-expiry@rules.court.valid_for"),
        ("error", "outlives-catalog@rules.court.valid_for"),
    }
    # without a catalog, five years is the longest any record may count
    assert [i.ref for i in lint(parse_scheme(FOREVER))] == ["no-expiry@rules.court.valid_for"]
    five = LAWFUL.replace('valid_for = "2y"', 'valid_for = "5y"')
    assert lint(parse_scheme(five), catalog) == []  # court.defaulter is shown 5 years
    longer = LAWFUL.replace('valid_for = "2y"', 'valid_for = "1826d"')
    assert [i.check for i in lint(parse_scheme(longer), catalog)] == [
        "no-expiry",
        "outlives-catalog",
    ]
    # a pattern over codes with different periods: only longer than all of them is an error
    pattern = LAWFUL.replace('match = "court.defaulter"', 'match = "court.*"')
    assert lint(parse_scheme(pattern), catalog) == []


def test_terms_and_points_from_attributes_are_checked_against_the_catalog() -> None:
    def rule(points: str, valid_for: str, match: str = "finance.bank_arrears") -> str:
        return (
            HEAD + GRADES + f'[[rules]]\nid = "r"\nmatch = "{match}"\npoints = {points}\n'
            f"valid_for = {valid_for}\n"
        )

    years = '{ attr = "months", unit = "m", default = "1m", max = "12m" }'
    assert _checks(rule('{ per = "months", each = -10, max_units = 3 }', years)) == []
    wrong = _checks(
        rule('{ per = "channel", each = -10, max_units = 1 }', '"1y"', "finance.contract_default")
    )
    assert wrong == [("error", "attribute-type", 12)]
    unknown = _checks(
        rule("-10", '{ attr = "term_years", unit = "y", default = "1y", max = "1y" }')
    )
    assert unknown == [("warning", "unknown-attribute", 13)]
    # the longest term a record can get is the one the guardrails see
    forever = _checks(rule("-10", '{ attr = "months", unit = "y", default = "1y", max = "9y" }'))
    assert [check for _, check, _ in forever] == ["no-expiry", "outlives-catalog"]


@pytest.mark.parametrize(
    "valid_for",
    [
        '{ attr = "n", unit = "y", default = "30d", max = "5y" }',  # days for a calendar unit
        '{ attr = "n", unit = "y", default = "2y", max = "30m" }',  # not whole years
        '{ attr = "n", unit = "y", default = "6y", max = "5y" }',  # default beyond max
        '{ attr = "bad name", unit = "y", default = "2y", max = "5y" }',
        '{ attr = "n", unit = "q", default = "2y", max = "5y" }',
        '{ attr = "n", unit = "y", default = "2y", max = "1001y" }',
    ],
)
def test_a_bad_term_from_an_attribute_is_refused(valid_for: str) -> None:
    with pytest.raises(SchemeError) as info:
        parse_scheme(
            HEAD
            + GRADES
            + f'[[rules]]\nid = "r"\nmatch = "*"\npoints = 1\nvalid_for = {valid_for}\n'
        )
    assert info.value.issues[0].key.startswith("valid_for")


def test_bad_points_per_unit_are_refused() -> None:
    for points in (
        '{ per = "n", each = 1, max_units = 0 }',
        '{ per = "n", each = 1 }',  # without a bound
        '{ per = "n", each = 1, max_units = 1e7 }',
        '{ per = "n" }',
        "{ each = 1, max_units = 1 }",
        '{ per = "n", each = 1e-7, max_units = 1 }',  # so small a product could round to 0
        "1e-300",
        "-5e-7",
    ):
        with pytest.raises(SchemeError):
            parse_scheme(HEAD + GRADES + f'[[rules]]\nid = "r"\nmatch = "*"\npoints = {points}\n')


def test_subnormal_units_count_as_zero_and_small_points_are_kept() -> None:
    body = '[[rules]]\nid = "r"\nmatch = "*"\npoints = { per = "n", each = 1e-6, max_units = 9 }\n'
    per = parse_scheme(HEAD + GRADES + body).scheme.rules[0].points
    assert isinstance(per, PointsPer)
    assert [per.units({"n": n}) for n in (5e-324, 2.2e-308, 2.3e-308, 0, -1e-310)] == [
        0.0,
        0.0,
        2.3e-308,
        0,
        None,
    ]


def test_a_misspelt_key_is_named_even_when_it_is_a_branch_name() -> None:
    body = '[[rules]]\nid = "r"\nmatch = "*"\npoints = 1\nnumber = 3\n'
    with pytest.raises(SchemeError) as info:
        parse_scheme(HEAD + GRADES + body)
    assert info.value.issues[0].key == "number"
