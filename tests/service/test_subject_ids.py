"""One canonical identifier at every entry point: checks, record submissions (API and files),
keys and sign-in, and peer ratings that name another person.

A person types an id in many ways (a lower-case x, full-width digits from a Chinese input method,
spaces around it); every spelling must reach the same subject, and anything that is not an id
must be refused with a reason, never answered about.
"""

from __future__ import annotations

import asyncio
import csv
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from typer.testing import CliRunner

from tests.support.identifier_strategies import FULL_WIDTH, spelled
from tests.support.ledgers import new_ledger
from tests.support.service_fixtures import Service, make_service
from xinyong.application.keys import Role, create_key
from xinyong.cli.app import app
from xinyong.domain.catalog import load_catalog
from xinyong.domain.identifiers import synthetic_resident_id
from xinyong.domain.row_problem import RowProblem
from xinyong.ingest.validate import RecordValidator

LISTED = synthetic_resident_id(9, date(1985, 5, 5), 18)
"""A person whose resident ID ends in X."""
MALFORMED = {
    f"{LISTED}\u200b": "U+200B (ZERO WIDTH SPACE)",
    f"{LISTED[:6]} {LISTED[6:]}": "bad character ' ' at position 7",
    "".join(chr(ord(c) + 0x0630) if c.isdigit() else c for c in LISTED): "ARABIC-INDIC DIGIT",
    LISTED[:-1] + "1": "bad check digit",
    f"{LISTED[:6]}-{LISTED[6:]}": "written with separators",
    "\u200b": "U+200B (ZERO WIDTH SPACE) at position 1",
}
"""Values that must never be taken for the person (or anybody), and what the refusal says."""

runner = CliRunner()


def _inquiries(service: Service) -> list[str]:
    with service.engine.connect() as conn:
        return [str(r[0]) for r in conn.exec_driver_sql("SELECT subject_id FROM inquiries")]


async def _check(service: Service, subject: str) -> httpx.Response:
    async with service.client() as client:
        return await client.get(
            "/v1/checks",
            params={"subject": subject, "measure": "restrict-flights"},
            headers=service.headers("relying"),
        )


async def _submit(service: Service, records: list[dict[str, Any]]) -> httpx.Response:
    async with service.client() as client:
        return await client.post(
            "/v1/records", json={"records": records}, headers=service.headers("source")
        )


@pytest.fixture
def listed(tmp_path: Path) -> Service:
    """A service where LISTED is on the black list, submitted with a lower-case x."""
    service = make_service(f"sqlite:///{tmp_path / 'ledger.db'}")
    record = {
        "record_id": "c1",
        "subject_id": LISTED.lower(),
        "subject_kind": "person",
        "code": "court.defaulter",
        "occurred_at": "2025-06-01",
    }
    answer = asyncio.run(_submit(service, [record]))
    assert answer.json()["accepted"] == 1, answer.text
    return service


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(variant=spelled(LISTED))
def test_every_spelling_of_an_id_gets_that_ids_answer(listed: Service, variant: str) -> None:
    answer = asyncio.run(_check(listed, variant))
    assert answer.status_code == 200, answer.text
    assert (answer.json()["subject"], answer.json()["applies"]) == (LISTED, True)
    assert set(_inquiries(listed)) == {LISTED}  # logged under the id the person sees


def test_the_person_sees_every_check_made_on_any_spelling(listed: Service) -> None:
    with listed.engine.begin() as conn:
        token = create_key(conn, Role.SUBJECT, "".join(FULL_WIDTH.get(c, c) for c in LISTED))
    assert token.name == LISTED
    for variant in (LISTED, LISTED.lower(), f" {LISTED}\t"):
        assert asyncio.run(_check(listed, variant)).json()["applies"] is True

    async def my_file() -> httpx.Response:
        async with listed.client() as client:
            return await client.get("/v1/me", headers={"Authorization": f"Bearer {token.token}"})

    mine = asyncio.run(my_file()).json()
    assert len(mine["checks"]) == 3
    assert [r["record"] for r in mine["records"]] == ["bank/c1"]


def test_a_submission_refreshes_the_subject_it_names_however_spelled(listed: Service) -> None:
    """The refresh after a submission (list entries, notices) is of the canonical subject: the
    record submitted with a lower-case x put LISTED on the black list at once."""
    with listed.engine.connect() as conn:
        entries = conn.exec_driver_sql(
            "SELECT subject_id FROM listings WHERE delisted_on IS NULL"
        ).all()
        notices = conn.exec_driver_sql("SELECT subject_id, kind FROM notices").all()
    assert [entry[0] for entry in entries] == [LISTED]
    assert (LISTED, "listing") in {(n[0], n[1]) for n in notices}


@pytest.mark.parametrize(("value", "reason"), MALFORMED.items())
def test_a_malformed_id_is_refused_and_never_logged(
    listed: Service, value: str, reason: str
) -> None:
    answer = asyncio.run(_check(listed, value))
    assert answer.status_code == 422
    (problem,) = answer.json()["detail"]
    assert problem["loc"] == ["query", "subject"]
    assert reason in problem["msg"]
    assert _inquiries(listed) == []


def test_submitted_records_name_one_subject_however_spelled(listed: Service) -> None:
    variants = [LISTED, "".join(FULL_WIDTH.get(c, c) for c in LISTED), f"\u3000{LISTED}"]
    records = [
        {
            "record_id": f"v{n}",
            "subject_id": subject,
            "subject_kind": "person",
            "code": "court.defaulter",
            "occurred_at": "2025-06-02",
        }
        for n, subject in enumerate([*variants, *MALFORMED])
    ]
    report = asyncio.run(_submit(listed, records)).json()
    assert report["accepted"] == len(variants)
    assert [(r["index"], r["field"]) for r in report["rejected"]] == [
        (n + 1, "subject_id") for n in range(len(variants), len(records))
    ]
    for rejected, reason in zip(report["rejected"], MALFORMED.values(), strict=True):
        assert reason in rejected["reason"]
    with listed.engine.connect() as conn:
        ids = {r[0] for r in conn.exec_driver_sql("SELECT DISTINCT subject_id FROM records")}
        people = {r[0] for r in conn.exec_driver_sql("SELECT subject_id FROM subjects")}
    assert ids == people == {LISTED}


def test_a_records_file_names_one_subject_however_spelled(tmp_path: Path) -> None:
    path = tmp_path / "records.csv"
    fields = ["record_id", "subject_id", "subject_kind", "code", "occurred_at", "source"]
    rows = [
        [f"r{n}", subject, "person", "court.defaulter", "2025-06-01", "court"]
        for n, subject in enumerate(
            [LISTED, LISTED.lower(), "".join(FULL_WIDTH.get(c, c) for c in LISTED), *MALFORMED]
        )
    ]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(fields)
        writer.writerows(rows)
    url = new_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    result = runner.invoke(app, ["ingest", str(path), "--db", url])
    assert result.exit_code == 1, result.output  # some rows were rejected
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        ids = {r[0] for r in conn.exec_driver_sql("SELECT subject_id FROM records")}
    engine.dispose()
    assert ids == {LISTED}
    with path.with_name(path.name + ".rejects.csv").open(encoding="utf-8") as handle:
        rejects = list(csv.DictReader(handle))
    assert [r["field"] for r in rejects] == ["subject_id"] * len(MALFORMED)
    for reject, reason in zip(rejects, MALFORMED.values(), strict=True):
        assert reason in reject["reason"]


def test_a_rating_names_its_rater_in_canonical_form() -> None:
    validator = RecordValidator(load_catalog(), today=date(2026, 1, 1))
    other = synthetic_resident_id(9, date(1990, 1, 1), 2)
    row = {
        "record_id": "p1",
        "subject_id": other,
        "subject_kind": "person",
        "code": "peer.rating",
        "occurred_at": "2025-06-01",
        "source": "app",
        "case_id": "meet-1",
        "attrs": {"rater": LISTED.lower(), "stars": 5},
    }
    checked = validator.validate(row)
    assert not isinstance(checked, RowProblem), checked
    assert LISTED in checked[7]
    assert LISTED.lower() not in checked[7]
    self_rating = validator.validate({**row, "attrs": {"rater": f" {other} ", "stars": 5}})
    assert self_rating == RowProblem("attrs.rater", f"names the record's own subject {other!r}")
    bad = validator.validate({**row, "attrs": {"rater": f"{LISTED}\u200b", "stars": 5}})
    assert isinstance(bad, RowProblem)
    assert bad.field == "attrs.rater"


def test_a_subject_key_is_bound_to_the_canonical_id(tmp_path: Path) -> None:
    url = new_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    made = runner.invoke(
        app, ["keys", "create", "--role", "subject", "--name", LISTED.lower(), "--db", url]
    )
    assert made.exit_code == 0, made.output
    listed = runner.invoke(app, ["keys", "list", "--db", url])
    assert LISTED in listed.output
    refused = runner.invoke(
        app, ["keys", "create", "--role", "subject", "--name", f"{LISTED} 1", "--db", url]
    )
    assert refused.exit_code != 0
    assert "not a subject id" in refused.output
