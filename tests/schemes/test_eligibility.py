"""``[eligibility]``: age from the resident ID, consent as records, the same in the reference
evaluator and the compiled engines (the differential tests draw both; these pin the edges)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from tests.support.input_table import input_table
from xinyong.cli.app import app
from xinyong.domain.identifiers import synthetic_resident_id
from xinyong.domain.records import InputRecord
from xinyong.engines.duckdb import score_table
from xinyong.pilots import bundled_pilots
from xinyong.schemes.eligibility import CONSENT_GIVEN, CONSENT_WITHDRAWN, ineligibility, of_age
from xinyong.schemes.load import parse_scheme
from xinyong.scoring.reference import score_records

runner = CliRunner()
SCHEME = """\
id = "adults"
name = "Adults who consent"
subject_kinds = ["person", "organization"]
base = 100

[eligibility]
min_age = 18
consent = "required"

[[grades]]
name = "A"
"""


def _record(subject: str, code: str, day: date, kind: str = "person") -> InputRecord:
    return InputRecord(
        record_id=f"{subject}-{code}-{day}",
        source="test",
        subject_id=subject,
        subject_kind=kind,
        code=code,
        occurred_at=day,
    )


@pytest.mark.parametrize(
    ("birth", "as_of", "of"),
    [
        (date(2007, 6, 30), date(2025, 6, 30), True),
        (date(2007, 7, 1), date(2025, 6, 30), False),
        (date(2004, 2, 29), date(2022, 2, 28), False),  # a leap-day birthday in a common year
        (date(2004, 2, 29), date(2022, 3, 1), True),
        (date(2006, 3, 1), date(2024, 2, 29), False),
        (date(2006, 2, 28), date(2024, 2, 29), True),
    ],
)
def test_of_age_on_the_birthday(birth: date, as_of: date, of: bool) -> None:
    number = int(birth.strftime("%Y%m%d"))
    assert of_age(number, as_of, 18) is of
    subject = synthetic_resident_id(3702, birth, 1)
    scheme = parse_scheme(SCHEME.replace('consent = "required"\n', "")).scheme
    assert (ineligibility(scheme, subject, "person", [], as_of) is None) is of
    records = [_record(subject, "civic.blood_donation", as_of)]
    scored = [s.subject_id for s in score_records(scheme, records, as_of)]
    assert scored == ([subject] if of else [])
    compiled = score_table(scheme, input_table(records), as_of).column("subject_id").to_pylist()
    assert compiled == scored


def adult(n: int) -> str:
    return synthetic_resident_id(3702, date(1980, 1, 1), n)


def test_consent_is_the_latest_consent_record() -> None:
    scheme = parse_scheme(SCHEME).scheme
    day = date(2025, 6, 30)
    records = [
        # 1: consented; 2: consented then withdrew; 3: withdrew and consented again on the
        # same day (the withdrawal wins); 4: never asked; 5: consented after the as-of date;
        # an organization (no age) that consented.
        _record(adult(1), CONSENT_GIVEN, date(2024, 1, 1)),
        _record(adult(2), CONSENT_GIVEN, date(2024, 1, 1)),
        _record(adult(2), CONSENT_WITHDRAWN, date(2025, 1, 1)),
        _record(adult(3), CONSENT_GIVEN, date(2025, 1, 1)),
        _record(adult(3), CONSENT_WITHDRAWN, date(2025, 1, 1)),
        _record(adult(4), "civic.blood_donation", date(2025, 1, 1)),
        _record(adult(5), CONSENT_GIVEN, date(2025, 7, 1)),
        _record("91350100M000100Y43", CONSENT_GIVEN, date(2024, 1, 1), "organization"),
    ]
    want = sorted([adult(1), "91350100M000100Y43"])
    assert [s.subject_id for s in score_records(scheme, records, day)] == want
    compiled = score_table(scheme, input_table(records), day)
    assert sorted(compiled.column("subject_id").to_pylist()) == want
    why = ineligibility(scheme, adult(2), "person", records, day)
    assert why is not None
    assert "consent" in why


def test_explain_says_why_a_subject_is_not_scored(tmp_path: Path) -> None:
    child = synthetic_resident_id(3702, date(2015, 6, 30), 1)
    records = tmp_path / "records.csv"
    records.write_text(
        "record_id,source,subject_id,subject_kind,code,occurred_at\n"
        f"r1,test,{child},person,civic.blood_donation,2025-06-01\n",
        encoding="utf-8",
    )
    pilot = str(bundled_pilots()["rongcheng"])
    args = [
        "explain",
        pilot,
        "--subject",
        child,
        "--records",
        str(records),
        "--as-of",
        "2025-06-30",
    ]
    told = runner.invoke(app, args)
    assert told.exit_code == 0, told.output
    assert "is not scored by rongcheng: the scheme scores persons aged 18 or over" in told.output
    as_json = runner.invoke(app, [*args, "--json"])
    assert orjson.loads(as_json.output)["scored"] is False
