"""The bundled pilots: each loads, lints clean, and scores a worked example computed by hand.

Every expected number below is written as a literal and derived by hand in the comments, from
the pilot file and the semantics of ``docs/schemes.md``. Each example is checked against both
evaluators: the reference evaluator (``score_records``) and the compiled DuckDB engine
(``score_table``). Ages are days from ``occurred_at`` to the as-of date; durations are d = 1,
m = 30, y = 365 days, and a record counts while its age is *below* ``valid_for``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from itertools import count
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pytest

from tests.support.input_table import input_table
from xinyong.domain.catalog import load_catalog
from xinyong.domain.consent import CONSENT_GIVEN
from xinyong.domain.identifiers import synthetic_resident_id
from xinyong.domain.records import InputRecord
from xinyong.engines.duckdb import score_table
from xinyong.pilots import PILOTS_DIR, bundled_pilots
from xinyong.schemes.issues import Severity
from xinyong.schemes.lint import lint
from xinyong.schemes.load import LoadedScheme, load_scheme
from xinyong.scoring.reference import score_records
from xinyong.scoring.standing import Standing

PILOT_IDS = [
    "fuzhou-jasmine",
    "judgment-defaulters",
    "nosedive-gate",
    "rongcheng",
    "tax-credit",
    "xiamen-egret",
]
AS_OF = date(2025, 6, 30)
_ids = count(1)


@dataclass(frozen=True)
class Expect:
    """A hand-computed standing."""

    score: float
    grade: str
    lists: tuple[str, ...] = ()
    measures: tuple[str, ...] = ()


def adult(subject: str) -> str:
    """A person's test name (``p1``) as an adult's resident ID (born 1980): pilots with
    ``[eligibility] min_age`` score only persons whose ID shows their age."""
    if re.fullmatch(r"p\d+", subject) is None:
        return subject
    return synthetic_resident_id(3702, date(1980, 1, 1), int(subject[1:]))


def rec(
    subject: str, code: str, day: str, case: str | None = None, kind: str = "person", **attrs: Any
) -> InputRecord:
    """A record; ``day`` is YYYY-MM-DD; a person ``pN`` is an adult (:func:`adult`)."""
    return InputRecord(
        record_id=f"r{next(_ids)}",
        subject_id=adult(subject) if kind == "person" else subject,
        subject_kind=kind,
        code=code,
        occurred_at=date.fromisoformat(day),
        source="test",
        case_id=case,
        attrs=attrs,
    )


def org(subject: str, code: str, day: str, case: str | None = None, **attrs: Any) -> InputRecord:
    """A record of an organization."""
    return rec(subject, code, day, case, "organization", **attrs)


def _compiled(table: pa.Table) -> list[Standing]:
    return [
        Standing(
            row["subject_id"],
            row["score"],
            row["grade"],
            tuple(x for x in row["lists"].split(";") if x),
            tuple(x for x in row["measures"].split(";") if x),
        )
        for row in table.to_pylist()
    ]


@pytest.fixture(scope="module")
def con() -> Iterator[ibis.BaseBackend]:
    backend = ibis.duckdb.connect()
    yield backend
    backend.disconnect()


def _pilot(pilot_id: str) -> LoadedScheme:
    return load_scheme(bundled_pilots()[pilot_id])


def check(
    con: ibis.BaseBackend,
    pilot_id: str,
    records: list[InputRecord],
    expected: dict[str, Expect],
    as_of: date = AS_OF,
) -> None:
    """Both evaluators give exactly the hand-computed standings, subjects in id order."""
    scheme = _pilot(pilot_id).scheme
    if scheme.eligibility is not None and scheme.eligibility.consent == "required":
        # every person in these examples consented long ago (consent itself is tested below)
        people = sorted({r.subject_id for r in records if r.subject_kind == "person"})
        records = [*records, *(rec(p, CONSENT_GIVEN, "2020-01-01") for p in people)]
    want = sorted(
        (
            Standing(adult(subject), e.score, e.grade, e.lists, e.measures)
            for subject, e in expected.items()
        ),
        key=lambda s: s.subject_id,
    )
    reference = score_records(scheme, records, as_of)
    assert reference == want
    compiled = _compiled(score_table(scheme, input_table(records), as_of, con=con))
    assert [s.subject_id for s in compiled] == [s.subject_id for s in want]
    for got, exp in zip(compiled, want, strict=True):
        assert got.score == pytest.approx(exp.score, abs=1e-9), got
        assert (got.grade, got.lists, got.measures) == (exp.grade, exp.lists, exp.measures)


# ---------------------------------------------------------------- loading and lint


def test_bundled_pilots_are_the_six_files() -> None:
    pilots = bundled_pilots()
    assert list(pilots) == PILOT_IDS
    assert all(path.parent == PILOTS_DIR and path.suffix == ".toml" for path in pilots.values())


@pytest.mark.parametrize("pilot_id", PILOT_IDS)
def test_pilot_loads_and_lints_clean(pilot_id: str) -> None:
    loaded = _pilot(pilot_id)
    assert loaded.scheme.id == pilot_id
    assert len(loaded.version) == 64
    catalog = load_catalog()
    issues = lint(loaded, catalog)
    # No errors and no guardrail warnings at all: no pilot needs an exemption.
    assert [str(issue) for issue in issues] == []
    assert not [issue for issue in issues if issue.severity is Severity.ERROR]


@pytest.mark.parametrize("pilot_id", PILOT_IDS)
def test_pilot_is_documented(pilot_id: str) -> None:
    loaded = _pilot(pilot_id)
    scheme = loaded.scheme
    assert loaded.text.startswith("#"), "a header comment says what the pilot models"
    assert scheme.description
    assert all(rule.description for rule in scheme.rules)
    assert all(lst.description for lst in scheme.lists)
    assert all(measure.description for measure in scheme.measures)
    assert all(m.basis for m in scheme.measures if m.kind == "sanction")
    assert all(rule.valid_for for rule in scheme.rules if rule.unit_points < 0)
    docs = Path(__file__).resolve().parents[2] / "docs" / "schemes.md"
    assert f"`{pilot_id}`" in docs.read_text(encoding="utf-8")


def test_incentive_only_pilots_have_no_sanctions() -> None:
    for pilot_id in ("xiamen-egret", "fuzhou-jasmine"):
        scheme = _pilot(pilot_id).scheme
        assert all(m.kind == "reward" for m in scheme.measures)
        assert not [lst for lst in scheme.lists if lst.kind == "black"]


def test_black_lists_admit_by_record_only() -> None:
    # "A low score alone is never the basis for credit penalties".
    for pilot_id in PILOT_IDS:
        for lst in _pilot(pilot_id).scheme.lists:
            if lst.kind == "black":
                assert lst.rules
                assert not lst.grades


# ---------------------------------------------------------------- rongcheng

RONGCHENG_RED = ("red-list",)
RONGCHENG_REWARDS = ("deposit-free-bikes", "green-channel")
RONGCHENG_SANCTIONS = ("enhanced-supervision", "no-honours")


def test_rongcheng_worked_example(con: ibis.BaseBackend) -> None:
    records = [
        # p1: a mixed record, as of 2025-06-30.
        # contract default 2025-03-01 (age 121 < 365), case L1, never repaid:       -20
        rec("p1", "finance.contract_default", "2025-03-01", "L1", amount=8000),
        # a repayment of a *different* case (L2) clears nothing and matches no rule
        rec("p1", "finance.repaid", "2025-05-10", "L2"),
        # breach judgment 2024-09-15 (case J1), performed 2025-01-20 (same case, between
        # the record's date and the as-of date): cleared, 0
        rec("p1", "court.breach_judgment", "2024-09-15", "J1", amount=50000),
        rec("p1", "court.judgment_performed", "2025-01-20", "J1"),
        # bank arrears 2025-02-01, 3 months: -10 per month:                          -30
        rec("p1", "finance.bank_arrears", "2025-02-01", "L3", amount=3000, months=3),
        # late utility fee 2025-01-10: age 171 >= 90 (3m): expired, 0
        rec("p1", "utility.late_fee", "2025-01-10", "U1"),
        # three blood donations, ages 542, 333 and 90, all < 730: 3 x 10 = 30, cap 20: +20
        rec("p1", "civic.blood_donation", "2024-01-05", ml=400),
        rec("p1", "civic.blood_donation", "2024-08-01", ml=400),
        rec("p1", "civic.blood_donation", "2025-04-01", ml=400),
        # a breach judgment dated after the as-of date is not considered
        rec("p1", "court.breach_judgment", "2025-07-01", "J2"),
        # p1: 1000 - 20 - 30 + 20 = 970 >= 960 -> A; no list, no measure.
        #
        # p2: commendation 2024-03-01 (age 486 < 1095): +30; commendation 2022-01-01
        # (age 1276 >= 1095): expired; five volunteer services in 2025: 5 x 5 = 25, cap 20.
        # 1000 + 30 + 20 = 1050 >= 1050 -> AAA (a min is inclusive): red list, both rewards.
        rec("p2", "civic.commendation", "2024-03-01"),
        rec("p2", "civic.commendation", "2022-01-01"),
        *[rec("p2", "civic.volunteer_service", f"2025-0{m}-15", hours=4) for m in range(1, 6)],
        # p3: fraud 2023-11-01 (age 607 < 1095): -30; utility theft 2024-06-01 (age 394 >=
        # 365): expired; equipment damage on the as-of date (age 0): -100; bank arrears
        # 2025-05-01 without `months`: nothing shows how many months, so it does not count.
        # 1000 - 30 - 100 = 870 >= 850 -> B, yet on the black list by its records
        # (fraud, equipment-damage): both sanctions.
        rec("p3", "finance.fraud", "2023-11-01", amount=20000),
        rec("p3", "utility.theft", "2024-06-01"),
        rec("p3", "utility.equipment_damage", "2025-06-30"),
        rec("p3", "finance.bank_arrears", "2025-05-01", "L9"),
        # p4: seven utility thefts on 1-7 June 2025: 7 x -60 = -420. 1000 - 420 = 580 < 600
        # -> D, but utility theft is not a black-list rule: a low score alone brings no
        # sanction.
        *[rec("p4", "utility.theft", f"2025-06-0{d}") for d in range(1, 8)],
        # p5: arrears of 7 months count 3 (max_units): -30; of 2.5 months: -25.
        # 1000 - 55 = 945 >= 850 -> B.
        rec("p5", "finance.bank_arrears", "2025-03-01", "L5", months=7),
        rec("p5", "finance.bank_arrears", "2025-04-01", "L6", months=2.5),
        # an organisation's record: rongcheng scores persons only, so o1 is not scored
        org("o1", "finance.contract_default", "2025-01-01"),
    ]
    check(
        con,
        "rongcheng",
        records,
        {
            "p1": Expect(970.0, "A"),
            "p2": Expect(1050.0, "AAA", RONGCHENG_RED, RONGCHENG_REWARDS),
            "p3": Expect(870.0, "B", ("black-list",), RONGCHENG_SANCTIONS),
            "p4": Expect(580.0, "D"),
            "p5": Expect(945.0, "B"),
        },
    )


def test_rongcheng_floor(con: ibis.BaseBackend) -> None:
    # 11 equipment damages in 2025: 11 x -100 = -1100; 1000 - 1100 = -100, clamped to the
    # floor 0 -> D; on the black list by record.
    records = [rec("p1", "utility.equipment_damage", f"2025-{m:02d}-01") for m in range(1, 12)]
    check(
        con,
        "rongcheng",
        records,
        {
            "p1": Expect(0.0, "D", ("black-list",), RONGCHENG_SANCTIONS),
        },
        as_of=date(2025, 11, 30),
    )


# ---------------------------------------------------------------- judgment defaulters

NINE_RESTRICTIONS = (
    "no-high-speed-rail",
    "no-holidays",
    "no-luxury-venues",
    "no-premium-insurance",
    "no-premium-offices",
    "no-premium-travel",
    "no-private-schools",
    "no-property",
    "no-vehicles",
)


def test_judgment_defaulters_worked_example(con: ibis.BaseBackend) -> None:
    records = [
        # o1 (organization): two unperformed listings, case C1 2024-01-15 (age 532 < 730)
        # and case C4 2025-03-01 aggravated (age 121).
        # listing: 2 x -1 = -2, cap 1 -> -1; aggravated-listing: -1 (C4 only).
        # 0 - 1 - 1 = -2, clamped to the floor -1 -> below min 0 -> LISTED: on the list,
        # the nine restrictions apply.
        org("o1", "court.defaulter", "2024-01-15", "C1", amount=2_000_000, ground=1),
        org("o1", "court.defaulter", "2025-03-01", "C4", ground=2, aggravated=True),
        # p1: aggravated listing 2022-03-01 for the 5 years the court decided: both rules
        # count until 2027-03-01: -2 -> -1 -> LISTED.
        rec("p1", "court.defaulter", "2022-03-01", "C2", ground=2, aggravated=True, term_years=5),
        # p4: the same listing without a decided term: 2 years for the listing rule, 3 for
        # the aggravated one, both over by 2025-03-01. 0 -> CLEAR.
        rec("p4", "court.defaulter", "2022-03-01", "C6", ground=2, aggravated=True),
        # p5: extended by 1 year (term_years = 3) on 2022-07-01: counts until 2025-07-01,
        # the day after the as-of date. -1 -> LISTED.
        rec("p5", "court.defaulter", "2022-07-01", "C7", ground=2, aggravated=True, term_years=3),
        # p2: listed 2024-06-01 in case C3 and performed 2025-02-01 in the same case:
        # cleared (removal on performance). 0 -> CLEAR.
        rec("p2", "court.defaulter", "2024-06-01", "C3", ground=4, aggravated=False),
        rec("p2", "court.judgment_performed", "2025-02-01", "C3"),
        # p3: listed 2023-05-01 (age 791 >= 730): the term has run out; not aggravated
        # (aggravated = false, so the 5-year rule's predicate is false). 0 -> CLEAR.
        # A performance in another case (C9) clears nothing and counts for no rule.
        rec("p3", "court.defaulter", "2023-05-01", "C5", ground=4, aggravated=False),
        rec("p3", "court.judgment_performed", "2024-01-01", "C9"),
        # p6, p7: Art. 10's other grounds end a listing too: a settlement performed (C8), and
        # a withdrawal by the applicant (C10). 0 -> CLEAR.
        rec("p6", "court.defaulter", "2024-06-01", "C8", ground=6),
        rec("p6", "court.settlement_performed", "2025-01-01", "C8", amount=50_000),
        rec("p7", "court.defaulter", "2024-06-01", "C10", ground=1),
        rec("p7", "court.listing_withdrawn", "2025-02-01", "C10", reason="applicant_request"),
    ]
    check(
        con,
        "judgment-defaulters",
        records,
        {
            "o1": Expect(-1.0, "LISTED", ("defaulters",), NINE_RESTRICTIONS),
            "p1": Expect(-1.0, "LISTED", ("defaulters",), NINE_RESTRICTIONS),
            "p2": Expect(0.0, "CLEAR"),
            "p3": Expect(0.0, "CLEAR"),
            "p4": Expect(0.0, "CLEAR"),
            "p5": Expect(-1.0, "LISTED", ("defaulters",), NINE_RESTRICTIONS),
            "p6": Expect(0.0, "CLEAR"),
            "p7": Expect(0.0, "CLEAR"),
        },
    )


def test_judgment_defaulters_term_boundary(con: ibis.BaseBackend) -> None:
    # Listed 2023-06-30, not aggravated: two calendar years end on 2025-06-30, 731 days later
    # (29 February 2024 lies between; a term of 730 days would end it a day early). Listed as
    # of 2025-06-29; as of 2025-06-30 the term is over.
    records = [rec("p1", "court.defaulter", "2023-06-30", "C1")]
    listed = Expect(-1.0, "LISTED", ("defaulters",), NINE_RESTRICTIONS)
    check(con, "judgment-defaulters", records, {"p1": listed}, as_of=date(2025, 6, 29))
    check(con, "judgment-defaulters", records, {"p1": Expect(0.0, "CLEAR")})


def test_judgment_defaulters_performance_must_follow_the_listing(con: ibis.BaseBackend) -> None:
    # A performance record dated before the listing (same case) does not clear it: clearing
    # needs a date between the listing's own date and the as-of date. Listed 2025-01-01
    # (age 180): -1 -> LISTED.
    records = [
        rec("p1", "court.judgment_performed", "2024-12-01", "C1"),
        rec("p1", "court.defaulter", "2025-01-01", "C1"),
    ]
    check(
        con,
        "judgment-defaulters",
        records,
        {
            "p1": Expect(-1.0, "LISTED", ("defaulters",), NINE_RESTRICTIONS),
        },
    )


# ---------------------------------------------------------------- tax credit

DIRECT_D_SANCTIONS = ("key-monitoring", "vat-invoices-restricted")


def test_tax_credit_worked_example(con: ibis.BaseBackend) -> None:
    records = [
        # o1: late filing 2025-01-10 (age 171 < 365): -5. Evasion 2023-05-01 of 200,000 yuan
        # and 50% of tax due: age 791 >= 365 (evasion) and >= 730 (direct-d-evasion), so
        # neither the deduction nor the veto applies any more.
        # 100 - 5 = 95 >= 90 -> A: on the A-grade list, may collect 3 months of invoices.
        org("o1", "tax.late_filing", "2025-01-10", days_late=12),
        org("o1", "tax.evasion", "2023-05-01", "T0", amount=200_000, share_of_due=0.5),
        # o2: four late filings in 2025: 4 x -5 = -20, cap 15 -> -15; one more late filing
        # 2024-06-01 (age 394 >= 365): expired; late payment 2024-12-01 (age 211): -5.
        # 100 - 15 - 5 = 80 >= 70 -> B.
        *[org("o2", "tax.late_filing", f"2025-0{m}-20") for m in range(1, 5)],
        org("o2", "tax.late_filing", "2024-06-01"),
        org("o2", "tax.late_payment", "2024-12-01", amount=9000, days_late=40),
        # o3: evasion 2024-09-01 (case T1) of 250,000 yuan and 15% of tax due, the tax paid
        # 2024-10-01 (case T1). The -11 deduction is cleared by the payment; the direct-D rule
        # (0 points, not clearable) counts: 250000 >= 100000 and 0.15 >= 0.1, age 302 < 730.
        # Score 100 -> A by points, but the veto makes it D: not on the A-grade list (that is
        # by grade), on the direct-D list by record, both sanctions.
        org("o3", "tax.evasion", "2024-09-01", "T1", amount=250_000, share_of_due=0.15),
        org("o3", "tax.paid", "2024-10-01", "T1", amount=250_000),
        # o4: evasion 2025-02-01 of 500,000 yuan with share_of_due missing: the deduction
        # counts (-11) but the direct-D predicate is `true and unknown` = unknown: no veto.
        # Two invoice frauds in 2025: 2 x -20 = -40. Two late payments: 2 x -5 = -10.
        # 100 - 11 - 40 - 10 = 39 < 40 -> D by score alone: no list, no sanction.
        org("o4", "tax.evasion", "2025-02-01", "T2", amount=500_000),
        org("o4", "tax.invoice_fraud", "2025-03-01", amount=80_000),
        org("o4", "tax.invoice_fraud", "2025-04-01", amount=60_000),
        org("o4", "tax.late_payment", "2025-03-15"),
        org("o4", "tax.late_payment", "2025-04-15"),
        # a person's record: tax-credit scores organizations only, so p9 is not scored
        rec("p9", "tax.late_filing", "2025-01-10"),
    ]
    check(
        con,
        "tax-credit",
        records,
        {
            "o1": Expect(95.0, "A", ("a-grade",), ("vat-invoices-3-months",)),
            "o2": Expect(80.0, "B"),
            "o3": Expect(100.0, "D", ("direct-d",), DIRECT_D_SANCTIONS),
            "o4": Expect(39.0, "D"),
        },
    )


def test_tax_credit_direct_d_needs_both_thresholds(con: ibis.BaseBackend) -> None:
    # Both 2025-05-01, age 60. o1: 99,999 yuan at 50%: below 100,000, no veto; o2: 1,000,000
    # yuan at 9.9%: below 10%, no veto. Each 100 - 11 = 89 < 90 -> B.
    # o3: exactly 100,000 yuan and exactly 10%: veto -> 89 but D.
    records = [
        org("o1", "tax.evasion", "2025-05-01", amount=99_999, share_of_due=0.5),
        org("o2", "tax.evasion", "2025-05-01", amount=1_000_000, share_of_due=0.099),
        org("o3", "tax.evasion", "2025-05-01", amount=100_000, share_of_due=0.1),
    ]
    check(
        con,
        "tax-credit",
        records,
        {
            "o1": Expect(89.0, "B"),
            "o2": Expect(89.0, "B"),
            "o3": Expect(89.0, "D", ("direct-d",), DIRECT_D_SANCTIONS),
        },
    )


def test_tax_credit_grade_m_and_tax_crimes(con: ibis.BaseBackend) -> None:
    records = [
        # o1: newly established 2025-03-01 (in its first year): 100 would be A, the rule
        # assigns M. Not on the A-grade list (that is by grade).
        org("o1", "tax.new_taxpayer", "2025-03-01"),
        # o2: newly established, and four invoice frauds: 100 - 80 = 20 would be D, but a new
        # enterprise is M whatever its score (Announcement 2018 No. 8, Art. 1(1)).
        org("o2", "tax.new_taxpayer", "2025-03-01"),
        *[org("o2", "tax.invoice_fraud", f"2025-0{m}-10") for m in range(2, 6)],
        # o3: newly established and convicted of a tax crime: direct D overrides M.
        org("o3", "tax.new_taxpayer", "2025-03-01"),
        org("o3", "tax.crime", "2025-05-01", offence="false_vat_invoices", amount=300_000),
        # o4: no revenue in the year, 100 points: no better than M -> M.
        org("o4", "tax.no_revenue", "2025-01-01"),
        # o5: no revenue and two invoice frauds: 100 - 40 = 60 -> C, already worse than M.
        org("o5", "tax.no_revenue", "2025-01-01"),
        org("o5", "tax.invoice_fraud", "2025-02-01"),
        org("o5", "tax.invoice_fraud", "2025-03-01"),
        # o6: established 2024-06-01: its first year ended on 2025-06-01 -> A by score.
        org("o6", "tax.new_taxpayer", "2024-06-01"),
        # o7: tax crime 2023-07-01: the 2-year veto lasts until 2025-07-01, the day after the
        # as-of date: 100 but D.
        org("o7", "tax.crime", "2023-07-01", offence="export_rebate_fraud"),
    ]
    check(
        con,
        "tax-credit",
        records,
        {
            "o1": Expect(100.0, "M"),
            "o2": Expect(20.0, "M"),
            "o3": Expect(100.0, "D", ("direct-d",), DIRECT_D_SANCTIONS),
            "o4": Expect(100.0, "M"),
            "o5": Expect(60.0, "C"),
            "o6": Expect(100.0, "A", ("a-grade",), ("vat-invoices-3-months",)),
            "o7": Expect(100.0, "D", ("direct-d",), DIRECT_D_SANCTIONS),
        },
    )


# ---------------------------------------------------------------- xiamen egret

XIAMEN_BOTH = ("park-first-pay-later", "xiamen-library-deposit-free")


def test_xiamen_egret_worked_example(con: ibis.BaseBackend) -> None:
    records = [
        # p1: volunteer service 2025-04-18, age 73: linear decay 10 x (1 - 73/365) = 10 x 0.8
        # = +8; another on the as-of date (age 0): 10 x 1 = +10.
        # 600 + 8 + 10 = 618 >= 600 -> A: library loans and park first, pay later.
        rec("p1", "civic.volunteer_service", "2025-04-18", hours=3),
        rec("p1", "civic.volunteer_service", "2025-06-30", hours=3),
        # p2: contract default 2025-01-01 (age 180), case F1, not repaid: -30; five traffic
        # violations in June 2025 (ages < 90): 5 x -5 = -25, cap 20 -> -20; volunteer service
        # 2024-12-31, age 181: 10 x (1 - 181/365) = 10 x 184/365 = 5.041095... -> +5.0411.
        # 600 - 30 - 20 + 5.041095 = 555.041095, rounded to 2 decimals: 555.04 -> B (>= 530):
        # park first, pay later only.
        rec("p2", "finance.contract_default", "2025-01-01", "F1", amount=12000),
        *[rec("p2", "traffic.violation", f"2025-06-0{d}", points=2) for d in range(1, 6)],
        rec("p2", "civic.volunteer_service", "2024-12-31"),
        # p3: judgment defaulter 2025-01-01, case D1, unperformed: -150; three blood donations
        # in 2025: 3 x 20 = 60, cap 40 -> +40. 600 - 150 + 40 = 490 < 530 -> C: no reward.
        rec("p3", "court.defaulter", "2025-01-01", "D1"),
        *[rec("p3", "civic.blood_donation", f"2025-0{m}-01") for m in (1, 3, 5)],
        # p4: listed 2024-10-01 (case D2), performed 2025-03-01 (case D2): cleared. Drunk
        # driving 2022-06-30: age 1096 >= 1095 (3y): expired. 600 -> A: both rewards.
        rec("p4", "court.defaulter", "2024-10-01", "D2"),
        rec("p4", "court.judgment_performed", "2025-03-01", "D2"),
        rec("p4", "traffic.drunk_driving", "2022-06-30"),
    ]
    check(
        con,
        "xiamen-egret",
        records,
        {
            "p1": Expect(618.0, "A", (), XIAMEN_BOTH),
            "p2": Expect(555.04, "B", (), ("park-first-pay-later",)),
            "p3": Expect(490.0, "C"),
            "p4": Expect(600.0, "A", (), XIAMEN_BOTH),
        },
    )


def test_xiamen_egret_counts_breached_credit_commitments(con: ibis.BaseBackend) -> None:
    records = [
        # p1: a commitment 2025-01-01 (K1) breached 2025-03-01: 600 - 50 = 550 -> B.
        rec("p1", "commitment.made", "2025-01-01", "K1", matter="licence"),
        rec("p1", "commitment.breached", "2025-03-01", "K1", matter="licence"),
        # p2: a commitment kept (no breach) changes nothing: 600 -> A. A breach of 2024-06-30
        # ended its calendar year on 2025-06-30, the as-of date.
        rec("p2", "commitment.made", "2025-01-01", "K2"),
        rec("p2", "commitment.breached", "2024-06-30", "K3"),
        # p3: listed for 3 years by the court (term_years) on 2022-07-01: -150 until
        # 2025-07-01 -> 450, C; p4's listing ended by a performed settlement.
        rec("p3", "court.defaulter", "2022-07-01", "D1", term_years=3),
        rec("p4", "court.defaulter", "2025-01-01", "D2"),
        rec("p4", "court.settlement_performed", "2025-02-01", "D2"),
    ]
    check(
        con,
        "xiamen-egret",
        records,
        {
            "p1": Expect(550.0, "B", (), ("park-first-pay-later",)),
            "p2": Expect(600.0, "A", (), XIAMEN_BOTH),
            "p3": Expect(450.0, "C"),
            "p4": Expect(600.0, "A", (), XIAMEN_BOTH),
        },
    )


# ---------------------------------------------------------------- fuzhou jasmine

FUZHOU_TOP = ("fuzhou-deposit-free-bikes", "fuzhou-green-channel", "fuzhou-library-deposit-free")


def test_fuzhou_jasmine_worked_example(con: ibis.BaseBackend) -> None:
    records = [
        # p1: four commendations since 2023 (all younger than 1095 days): 4 x 100 = 400, cap
        # 300; two blood donations: 2 x 30 = +60; twelve volunteer services in the last year:
        # 12 x 10 = 120, cap 100. 500 + 300 + 60 + 100 = 960 >= 850 -> EXCELLENT: all three.
        *[rec("p1", "civic.commendation", f"{y}-09-01") for y in (2022, 2023, 2024)],
        rec("p1", "civic.commendation", "2025-02-01"),
        rec("p1", "civic.blood_donation", "2024-09-01"),
        rec("p1", "civic.blood_donation", "2025-03-01"),
        *[rec("p1", "civic.volunteer_service", f"2024-{m:02d}-15") for m in range(7, 13)],
        *[rec("p1", "civic.volunteer_service", f"2025-{m:02d}-15") for m in range(1, 7)],
        # p2: an administrative penalty that was a warning only: `warning_only is null` is
        # false and `warning_only = false` is false: does not count. A penalty whose record
        # does not say: `warning_only is null` is true: counts, -30. Two commendations:
        # +200. 500 + 200 - 30 = 670 >= 650 -> GOOD: deposit-free bikes.
        rec("p2", "market.admin_penalty", "2025-01-10", warning_only=True),
        rec("p2", "market.admin_penalty", "2025-02-10", amount=2000),
        rec("p2", "civic.commendation", "2024-05-01"),
        rec("p2", "civic.commendation", "2025-05-01"),
        # p3: judgment defaulter -150, drunk driving -100, breach judgment -50, twelve bank
        # arrears 12 x -20 = -240, all in the last year and unperformed:
        # 500 - 150 - 100 - 50 - 240 = -40, clamped to the floor 0 -> LOW.
        rec("p3", "court.defaulter", "2025-01-05", "D1"),
        rec("p3", "traffic.drunk_driving", "2024-11-11"),
        rec("p3", "court.breach_judgment", "2025-02-02", "J1"),
        *[rec("p3", "finance.bank_arrears", "2025-03-03", f"B{i}") for i in range(12)],
        # p4: late utility fee 2025-06-01 (case U1) paid on the as-of date (the day counts:
        # between the record's date and t inclusive): cleared. Late fee 2025-05-20 (case U2,
        # age 41 < 90) unpaid: -10. Blood donation 2023-06-30: age 731 >= 730: expired. Six
        # volunteer services: +60. 500 - 10 + 60 = 550 >= 550 -> FAIR: no reward yet.
        rec("p4", "utility.late_fee", "2025-06-01", "U1", amount=120),
        rec("p4", "utility.paid", "2025-06-30", "U1", amount=120),
        rec("p4", "utility.late_fee", "2025-05-20", "U2", amount=80),
        rec("p4", "civic.blood_donation", "2023-06-30"),
        *[rec("p4", "civic.volunteer_service", f"2025-0{m}-10") for m in range(1, 7)],
    ]
    check(
        con,
        "fuzhou-jasmine",
        records,
        {
            "p1": Expect(960.0, "EXCELLENT", (), FUZHOU_TOP),
            "p2": Expect(670.0, "GOOD", (), ("fuzhou-deposit-free-bikes",)),
            "p3": Expect(0.0, "LOW"),
            "p4": Expect(550.0, "FAIR"),
        },
    )


# ---------------------------------------------------------------- nosedive-gate


def test_nosedive_gate_worked_example(con: ibis.BaseBackend) -> None:
    # EigenTrust from the seeds town-01, town-02, town-03 (p = 1/3 each, a = 0.15), 10 ratings
    # of the prior 4.3, ratings count for 30 days; everyone's first interaction is 2025-05-01,
    # so nobody is a newcomer (7 days) by June.
    met = [
        rec(who, "peer.interaction", "2025-05-01", "m0", counterpart=other)
        for who, other in (
            ("lacie", "town-01"),
            ("town-01", "lacie"),
            ("town-02", "lacie"),
            ("town-03", "lacie"),
        )
    ]
    records = [
        *met,
        # town-01 rates lacie 5 (+1 of local trust), town-02 rates her 4 (+0.5): both rows put
        # all their trust on lacie.
        rec("lacie", "peer.rating", "2025-06-20", "m1", rater="town-01", stars=5),
        rec("lacie", "peer.rating", "2025-06-20", "m2", rater="town-02", stars=4),
        # town-01 rated her 1 star on 2025-05-25: age 36, not below 30 days: ignored.
        rec("lacie", "peer.rating", "2025-05-25", "m3", rater="town-01", stars=1),
        # lacie rates town-02 1 star, and town-02 rates her 1 star back the same day, after:
        # the reply is presumed retaliation and weighs 0; lacie's rating, given first, stands
        # (negative trust is cut to 0: lacie still trusts nobody, her row like town-03's is p).
        rec("town-02", "peer.rating", "2025-06-21", "m4", rater="lacie", stars=1),
        rec("lacie", "peer.rating", "2025-06-21", "m4", rater="town-02", stars=1),
    ]
    # By symmetry every seed has t = s and lacie L: L = 0.85 * 2s, s = 0.85 (s + L) / 3 + 0.05,
    # so s = 0.05 / 0.235 = 10/47, L = 17/47; n = 4 and W = 4t: W_town-01 = W_town-02 = 40/47.
    # lacie: (10 * 4.3 + 40/47 * 5 + 40/47 * 4) / (10 + 80/47) = 2381/550 = 4.3291 -> 4.33,
    # BOARDING: she may board, no housing discount.
    # town-02: lacie's 1 star with W_lacie = 4 * 17/47 = 68/47:
    # (10 * 4.3 + 68/47 * 1) / (10 + 68/47) = 2089/538 = 3.8829 -> 3.88, GROUNDED.
    # town-01 and town-03: nobody rated them: the prior 4.3: BOARDING.
    boarding = Expect(4.3, "BOARDING", (), ("board-flight",))
    check(
        con,
        "nosedive-gate",
        records,
        {
            "lacie": Expect(4.33, "BOARDING", (), ("board-flight",)),
            "town-01": boarding,
            "town-02": Expect(3.88, "GROUNDED"),
            "town-03": boarding,
        },
    )


def test_rongcheng_scores_adults_only(con: ibis.BaseBackend) -> None:
    """Rongcheng scores adults (its header): a 10-year-old with a blood donation is not graded
    AAA and red-listed; someone turning 18 on the as-of date is scored; a person whose age
    no resident ID shows is not."""
    child = synthetic_resident_id(3702, date(2015, 6, 30), 1)
    turning = synthetic_resident_id(3702, date(2007, 6, 30), 2)
    almost = synthetic_resident_id(3702, date(2007, 7, 1), 3)
    records = [
        rec(subject, "civic.blood_donation", "2025-06-01")
        for subject in (child, turning, almost, "ext:unknown-age")
    ]
    check(con, "rongcheng", records, {turning: Expect(1010.0, "A")})


def test_rongcheng_scores_only_those_who_consent(con: ibis.BaseBackend) -> None:
    """Opting out keeps the records but gives no score (Rongcheng's current rules)."""
    scheme = _pilot("rongcheng").scheme
    never, withdrew = adult("p1"), adult("p2")
    records = [
        rec("p1", "civic.blood_donation", "2025-06-01"),
        rec("p2", "civic.blood_donation", "2025-06-01"),
        rec("p2", CONSENT_GIVEN, "2024-01-01"),
        rec("p2", "consent.withdrawn", "2025-01-01"),
    ]
    assert score_records(scheme, records, AS_OF) == []
    assert score_table(scheme, input_table(records), AS_OF, con=con).num_rows == 0
    assert never != withdrew
