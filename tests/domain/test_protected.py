"""One list of protected characteristics: the linter flags, the catalog refuses and ingest
rejects the same names, in English, pinyin and Chinese, and leaves ordinary names alone."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from xinyong.domain.catalog import CatalogError, load_catalog
from xinyong.domain.identifiers import synthetic_resident_id
from xinyong.domain.protected import protected_term
from xinyong.domain.row_problem import RowProblem
from xinyong.ingest.validate import RecordValidator
from xinyong.pilots import bundled_pilots
from xinyong.schemes.lint import lint
from xinyong.schemes.load import parse_scheme

PROTECTED = [
    ("faith", "religion or belief"),
    ("religious_belief", "religion or belief"),
    ("宗教信仰", "religion or belief"),
    ("xinyang", "religion or belief"),
    ("minzu_code", "ethnicity"),
    ("hukou_ethnic", "ethnicity"),
    ("民族", "ethnicity"),
    ("race", "ethnicity"),
    ("zhengzhi_mianmao", "political opinion"),
    ("政治面貌", "political opinion"),
    ("partyMember", "political opinion"),
    ("pregnant", "pregnancy"),
    ("怀孕", "pregnancy"),
    ("health_code", "health"),
    ("jibing_history", "health"),
    ("sexual_orientation", "sex life or sexual orientation"),
    ("性取向", "sex life or sexual orientation"),
    ("trade_union", "trade union membership"),
    ("工会会员", "trade union membership"),
    ("dna_sample", "genetic data"),
    ("基因", "genetic data"),
    ("fingerprint_hash", "biometric data"),
    ("人脸", "biometric data"),
    ("gender", "sex"),
]
ORDINARY = ["amount", "channel", "relying_party", "credit_union", "general", "trace", "code"]


@pytest.mark.parametrize(("name", "category"), PROTECTED)
def test_the_linter_flags_a_rule_that_reads_it(name: str, category: str) -> None:
    # attribute names in a predicate are ASCII; a Chinese term can only be a value there
    condition = f"{name} = 1" if name.isascii() else f"channel = '{name}'"
    scheme = (
        'id = "t"\nname = "t"\nbase = 100\n[[grades]]\nname = "A"\nmin = 90\n'
        '[[grades]]\nname = "D"\n[[rules]]\nid = "r"\nmatch = "tax.late_filing"\npoints = -5\n'
        f'valid_for = "1y"\nwhen = "{condition}"\n'
    )
    found = [
        i for i in lint(parse_scheme(scheme), load_catalog()) if i.check == "protected-attribute"
    ]
    assert [(i.key, category in i.message) for i in found] == [("when", True)]


@pytest.mark.parametrize("name", ["faith", "minzu", "hukou_ethnic", "pregnancy", "trade_union"])
def test_the_linter_flags_a_value_or_a_code_that_names_it(name: str) -> None:
    scheme = (
        'id = "t"\nname = "t"\nbase = 100\n[[grades]]\nname = "A"\nmin = 90\n'
        '[[grades]]\nname = "D"\n[[rules]]\nid = "r"\nmatch = "tax.late_filing"\npoints = -5\n'
        f"valid_for = \"1y\"\nwhen = \"channel in ('online', '{name}')\"\n"
        f'[[rules]]\nid = "s"\nmatch = "civic.{name}"\npoints = 1\n'
    )
    found = [
        (i.key, i.table) for i in lint(parse_scheme(scheme)) if i.check == "protected-attribute"
    ]
    assert found == [("when", "[[rules]] #1 (r)"), ("match", "[[rules]] #2 (s)")]


@pytest.mark.parametrize(("name", "category"), PROTECTED)
def test_the_catalog_refuses_to_declare_it(tmp_path: Path, name: str, category: str) -> None:
    text = (load_catalog().source).read_text(encoding="utf-8")
    text += (
        '\n[[codes]]\ncode = "tax.extra"\ndescription = "x"\ncategory = "tax"\n'
        f'severity = "minor"\nlegal_basis = "x"\nattrs = {{ "{name}" = "string" }}\n'
    )
    path = tmp_path / "catalog.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError, match=category):
        load_catalog(path)


@pytest.mark.parametrize(("name", "category"), PROTECTED)
def test_ingest_rejects_a_record_that_carries_it(name: str, category: str) -> None:
    row = {
        "record_id": "r1",
        "source": "bank",
        "subject_id": synthetic_resident_id(9, date(1980, 1, 1), 1),
        "subject_kind": "person",
        "code": "tax.late_filing",
        "occurred_at": "2025-01-01",
        "attrs": {name: "x"},
    }
    problem = RecordValidator(load_catalog(), today=date(2026, 1, 1)).validate(row)
    assert isinstance(problem, RowProblem)
    assert problem.field == f"attrs.{name}"
    assert category in problem.reason


@pytest.mark.parametrize("name", ORDINARY)
def test_ordinary_names_are_not_protected(name: str) -> None:
    assert protected_term(name) is None


def test_bundled_catalog_and_pilots_name_nothing_protected() -> None:
    catalog = load_catalog()
    names = [n for code, e in catalog.codes.items() for n in (code, *e.attrs)]
    assert [protected_term(n) for n in names] == [None] * len(names)
    for path in bundled_pilots().values():
        loaded = parse_scheme(path.read_text(encoding="utf-8"), path)
        assert [i for i in lint(loaded, catalog) if i.check == "protected-attribute"] == []
