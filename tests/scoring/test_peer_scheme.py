"""Peer scores in schemes: the ``[peer]`` table, lint, both evaluators, the ledger, objections.

Expected values are worked by hand from ``docs/schemes.md`` section 10 (10.1 is checked here
verbatim), or come from the other evaluator (the differential test).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import ibis
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, insert

from tests.support.peer_rows import DOC_10_1_SCHEME, interaction, ledger_rating
from tests.support.standings import standings_of
from tests.support.strategies import AS_OF, SUBJECTS, records, schemes
from xinyong.decisions.checks import check_measure
from xinyong.decisions.standing import SchemeRegistry, standing_of
from xinyong.domain.catalog import load_catalog
from xinyong.domain.record_table import RECORDS_SCHEMA
from xinyong.domain.records import InputRecord
from xinyong.due_process.active_schemes import ActiveSchemes
from xinyong.due_process.objections import decide_objection, file_objection
from xinyong.engines.duckdb import score_table, to_sql
from xinyong.ingest.records import ingest_rows
from xinyong.ledger.append import read_size
from xinyong.ledger.database import WRITE, WRITE_LOCK, open_database
from xinyong.ledger.schema import relying_parties
from xinyong.peer.ratings import SeedsAbsent
from xinyong.pilots import bundled_pilots
from xinyong.schemes.issues import SchemeError
from xinyong.schemes.lint import lint
from xinyong.schemes.load import load_scheme, parse_scheme
from xinyong.schemes.model import Scheme
from xinyong.scoring.explanation import explanation_json
from xinyong.scoring.reference import explain_subject, score_records
from xinyong.scoring.standing import Standing

EXAMPLE = DOC_10_1_SCHEME
DOC_AS_OF = date(2025, 6, 30)


def _rating(rid: str, rater: str, rated: str, stars: int, day: str) -> dict[str, Any]:
    return {
        "record_id": rid,
        "source": "app",
        "subject_id": rated,
        "subject_kind": "person",
        "code": "peer.rating",
        "occurred_at": date.fromisoformat(day),
        "case_id": "m1",
        "attrs": {"rater": rater, "stars": stars},
    }


def _arrow(rows: list[dict[str, Any]]) -> pa.Table:
    data = [
        {**row, "attrs": orjson.dumps(row["attrs"], option=orjson.OPT_SORT_KEYS).decode()}
        for row in rows
    ]
    return pa.Table.from_pylist(data, schema=RECORDS_SCHEMA)


# ---------------------------------------------------------------- the file format


def test_docs_worked_example_10_1() -> None:
    scheme = parse_scheme(EXAMPLE).scheme
    rows = [
        _rating("1", "r1", "s1", 5, "2025-06-05"),
        _rating("2", "r2", "s1", 4, "2025-06-12"),
        _rating("3", "r3", "s1", 1, "2025-05-01"),  # age 60: expired
    ]
    want = [Standing("s1", 3.75, "LOW")]
    assert score_records(scheme, [InputRecord(**r) for r in rows], DOC_AS_OF) == want
    assert standings_of(score_table(scheme, _arrow(rows), DOC_AS_OF)) == want
    thin = parse_scheme(EXAMPLE.replace("min_ratings = 2", "min_ratings = 0")).scheme
    assert score_records(thin, [InputRecord(**r) for r in rows], DOC_AS_OF) == [
        Standing("s1", 4.5, "HIGH")
    ]


def test_peer_errors_name_the_table_and_line() -> None:
    text = EXAMPLE + 'seeds = ["x"]\n\n[peer.safeguards]\ncollusion_size = 2\n'
    with pytest.raises(SchemeError) as caught:
        parse_scheme(text)
    messages = [str(issue) for issue in caught.value.issues]
    assert any("[peer.safeguards] collusion_size" in m and ":20:" in m for m in messages)
    with pytest.raises(SchemeError, match="seeds apply to algorithm = 'eigentrust' only"):
        parse_scheme(EXAMPLE + 'seeds = ["x"]\n')
    with pytest.raises(SchemeError, match="decay = 'linear' needs valid_for"):
        parse_scheme(EXAMPLE.replace('valid_for = "30d"', 'decay = "linear"'))


def test_a_scheme_without_peer_keeps_its_version() -> None:
    plain = EXAMPLE[: EXAMPLE.index("[peer]")]
    loaded = parse_scheme(plain)
    # docs/schemes.md section 7: the SHA-256 of the canonical JSON, where tables added later
    # (objection_days, [peer], [eligibility]) and keys added later (a grade's assigned, a
    # rule's grade, a measure's extends_to, a list's publish) appear only when set: as it was
    # before they existed.
    canonical = loaded.scheme.model_dump(mode="json")
    del canonical["peer"], canonical["objection_days"], canonical["eligibility"]
    for grade in canonical["grades"]:
        del grade["assigned"]
    for rule in canonical["rules"]:
        del rule["grade"]
    for measure in canonical["measures"]:
        del measure["extends_to"]
    for lst in canonical["lists"]:
        del lst["publish"]
    digest = hashlib.sha256(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)).hexdigest()
    assert loaded.version == digest
    assert parse_scheme(EXAMPLE).version != loaded.version


# ---------------------------------------------------------------- lint


def _checks(text: str) -> list[str]:
    return [issue.check for issue in lint(parse_scheme(text))]


def test_lint_warns_about_status_weighting_and_gates_without_a_path_back() -> None:
    gate = '\n[[measures]]\nid = "board"\nkind = "reward"\ngrades = ["HIGH"]\ndescription = "x"\n'
    nosedive = EXAMPLE.replace('algorithm = "bayesian"', 'algorithm = "nosedive"')
    assert _checks(nosedive) == ["status-weighting"]
    forever = EXAMPLE.replace('valid_for = "30d"\n', "")
    head, peer = forever.split("[peer]")
    assert _checks(head + gate + "[peer]" + peer) == ["gate-without-path-back"]
    # Ratings do expire, with the catalog's display period: the message says so, and when.
    [gated] = lint(parse_scheme(head + gate + "[peer]" + peer), catalog=load_catalog())
    assert "ratings count for the catalog's display period of peer.rating (1y)" in gated.message
    assert "never" not in gated.message
    [bare] = lint(parse_scheme(head + gate + "[peer]" + peer))
    assert "ratings count as long as the catalog displays them" in bare.message
    assert (
        _checks(
            EXAMPLE.split("[peer]", maxsplit=1)[0] + gate + "[peer]" + EXAMPLE.split("[peer]")[1]
        )
        == []
    )
    eigentrust = EXAMPLE.replace('algorithm = "bayesian"', 'algorithm = "eigentrust"')
    assert _checks(eigentrust) == ["no-seeds"]
    issue = lint(parse_scheme(nosedive))[0]
    assert (issue.table, issue.key, issue.line) == ("[peer]", "algorithm", 13)


# ---------------------------------------------------------------- both evaluators


@st.composite
def peer_rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    rows = []
    for number in range(draw(st.integers(0, 25))):
        rater, rated = draw(
            st.lists(st.sampled_from(SUBJECTS), min_size=2, max_size=2, unique=True)
        )
        day = AS_OF.toordinal() - draw(st.integers(-2, 60))
        rows.append(
            {
                "record_id": f"pr{number}",
                "source": "app",
                "subject_id": rated,
                "subject_kind": draw(st.sampled_from(["person", "person", "organization"])),
                "code": "peer.rating",
                "occurred_at": date.fromordinal(day),
                "case_id": f"m{number}",
                "attrs": {"rater": rater, "stars": draw(st.integers(1, 5))},
            }
        )
    return rows


@st.composite
def peer_tables(draw: st.DrawFn) -> dict[str, Any]:
    table: dict[str, Any] = {
        "algorithm": draw(st.sampled_from(["nosedive", "bayesian", "eigentrust"])),
        "weight": draw(st.sampled_from([1, 20, -3.5])),
        "prior": draw(st.sampled_from([3, 4.3])),
        "min_ratings": draw(st.sampled_from([0, 2])),
        "tolerance": 1e-12,
        "max_iterations": 3000,
    }
    if draw(st.booleans()):
        table["valid_for"] = "30d"
        table["decay"] = draw(st.sampled_from(["step", "linear"]))
    if table["algorithm"] == "eigentrust":
        table["seeds"] = draw(st.lists(st.sampled_from(SUBJECTS), max_size=2, unique=True))
    if draw(st.booleans()):
        table["safeguards"] = {"retaliation_window": "7d", "collusion_size": 3}
    return table


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scheme=schemes(), rows=records(), ratings=peer_rows(), peer=peer_tables())
def test_engines_agree_with_a_peer_score(
    scheme: dict[str, Any],
    rows: list[dict[str, Any]],
    ratings: list[dict[str, Any]],
    peer: dict[str, Any],
) -> None:
    model = Scheme.model_validate({**scheme, "peer": peer})
    everything = rows + ratings
    try:
        expected = score_records(model, [InputRecord(**r) for r in everything], AS_OF)
    except SeedsAbsent:  # seeds who rated nobody: both engines refuse
        with pytest.raises(SeedsAbsent):
            score_table(model, _arrow(everything), AS_OF)
        return
    actual = standings_of(score_table(model, _arrow(everything), AS_OF))
    assert [s.subject_id for s in actual] == [s.subject_id for s in expected]
    for want, got in zip(expected, actual, strict=True):
        assert got.same_as(want), (want, got)


def test_the_sql_of_a_peer_scheme_reads_a_peer_table() -> None:
    sql = to_sql(parse_scheme(EXAMPLE).scheme, DOC_AS_OF, "duckdb")
    assert "peer_scores" in sql


def test_explain_json_lists_ratings_and_discounts() -> None:
    scheme = parse_scheme(EXAMPLE + '\n[peer.safeguards]\nretaliation_window = "7d"\n').scheme
    rows = [
        _rating("1", "r1", "s1", 1, "2025-06-05"),
        _rating("2", "s1", "r1", 1, "2025-06-06"),
        _rating("3", "r2", "s1", 5, "2025-06-12"),
    ]
    inputs = [InputRecord(**r) for r in rows]
    from xinyong.peer.reference import reference_peer_scores

    assert scheme.peer is not None
    peer = reference_peer_scores(scheme.peer, inputs, ("person",), DOC_AS_OF)
    result = explain_subject(scheme, "r1", inputs, DOC_AS_OF, peer["r1"])
    body = explanation_json(result, "v")
    assert isinstance(body["peer"], dict)
    (only,) = body["peer"]["ratings"]
    assert only["record"] == "app/2"
    assert only["weight"] == 0
    assert only["discounted"] == [
        "retaliation: a reply, less than 7 days after the rated person rated the rater 2 stars "
        "or less, weight x0"
    ]
    # r1 = (2*3 + 0) / (2 + 0) = 3; s1 = (2*3 + 1 + 5) / (2 + 2) = 3.
    assert result.standing.score == 3
    with pytest.raises(ValueError, match="has a \\[peer\\] section"):
        explain_subject(scheme, "r1", inputs, DOC_AS_OF)


# ---------------------------------------------------------------- the ledger


@pytest.fixture
def gate_ledger(ledger_url: str) -> Iterator[Engine]:
    """A ledger with the nosedive-gate pilot, an airline, and lacie rated by two seeds."""
    engine = open_database(ledger_url)
    catalog = load_catalog()
    # town-01 and town-02 met on 2025-05-01: a month later they are no newcomers.
    rows: list[dict[str, object]] = [
        interaction("m0a", "town-01", "town-02", "m0", "2025-05-01"),
        interaction("m0b", "town-02", "town-01", "m0", "2025-05-01"),
    ]
    for number, seed in enumerate(("town-01", "town-02"), start=1):
        case = f"m{number}"
        rows.append(interaction(f"{case}a", seed, "lacie", case, "2025-06-01"))
        rows.append(interaction(f"{case}b", "lacie", seed, case, "2025-06-01"))
    rows.append(ledger_rating("r1", "town-01", "lacie", "m1", "2025-06-02", 5))
    rows.append(ledger_rating("r2", "town-02", "lacie", "m2", "2025-06-02", 1))
    report = ingest_rows(engine, rows, catalog, source="app", today=date(2025, 6, 30))
    assert report.rejects == []
    from xinyong.scoring.store import add_scheme

    with engine.connect().execution_options(**WRITE) as conn, conn.begin():
        add_scheme(conn, load_scheme(bundled_pilots()["nosedive-gate"]))
        conn.execute(
            insert(relying_parties).values(
                name="airline",
                measures='["board-flight"]',
                purpose="boarding",
                webhook_url=None,
                created_at="2025-06-01T00:00:00Z",
            )
        )
    yield engine
    engine.dispose()


def test_a_rating_can_be_objected_to_like_any_record(gate_ledger: Engine) -> None:
    # Seeds town-01, town-02, town-03 (n = 4 with lacie; town-03 is in no rating). town-01 trusts
    # lacie (+1), town-02 does not (1 star: -1, no positive trust: its row is p), town-03 and
    # lacie trust nobody: t = (1-a) C^T t + a p gives t_1 = t_2 = t_3 = s, lacie = L with
    # L = 0.85 s and s = 0.85 (2s + L) / 3 + 0.05, so s = 0.05 / (1 - 0.85 * 2.85 / 3)
    # = 1/3.85 ... = 20/77 and L = 17/77; W_1 = W_2 = 4 * 20/77 = 80/77.
    # lacie: (10*4.3 + 80/77 * 5 + 80/77 * 1) / (10 + 160/77) = (3311 + 480) / 930 = 3791/930
    # = 4.0763 -> 4.08, GROUNDED: the airline says no.
    catalog = load_catalog()
    day = date(2025, 6, 30)
    loaded = load_scheme(bundled_pilots()["nosedive-gate"])
    registry = SchemeRegistry()
    with gate_ledger.begin() as conn:
        before = check_measure(conn, registry, "airline", "lacie", "board-flight", day, catalog)
        standing = standing_of(conn, loaded, "lacie", day, read_size(conn), catalog)
    assert before.applies is False
    assert standing.explanation is not None
    assert standing.explanation.standing.score == 4.08
    # lacie objects to the 1-star rating, which is in her file; the operator upholds it.
    with gate_ledger.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
        objection = file_objection(conn, "lacie", "app", "r2", "we never met", None, day, 15)
        decide_objection(
            conn,
            objection.objection_id,
            uphold=True,
            reason="the rater confirmed the rating was meant for someone else",
            operator="op",
            today=day,
            active=ActiveSchemes([loaded], catalog),
        )
    # Now town-02's rating is revoked: lacie is rated by town-01 alone. town-02 rates nobody
    # (row p) like town-03, so the same t: (10*4.3 + 80/77 * 5) / (10 + 80/77) = 3711/850
    # = 4.3659 -> 4.37, BOARDING.
    with gate_ledger.begin() as conn:
        after = check_measure(conn, registry, "airline", "lacie", "board-flight", day, catalog)
        standing = standing_of(conn, loaded, "lacie", day, read_size(conn), catalog)
    assert after.applies is True
    assert standing.explanation is not None
    assert standing.explanation.standing.score == 4.37
    peer = standing.explanation.peer
    assert peer is not None
    assert [r.record for r in peer.ratings] == ["app/r1"]


def test_the_ledger_scores_peer_schemes_with_every_engine(gate_ledger: Engine) -> None:
    from xinyong.scoring.ledger_run import score_ledger
    from xinyong.scoring.run import Engine as ScoringEngine

    scheme = load_scheme(bundled_pilots()["nosedive-gate"]).scheme
    results = {}
    engines = [ScoringEngine.DUCKDB, ScoringEngine.PYTHON]
    if gate_ledger.dialect.name == "postgresql":
        engines.append(ScoringEngine.POSTGRES)
    with gate_ledger.connect() as conn:
        for engine in engines:
            table, _ = score_ledger(conn, scheme, date(2025, 6, 30), engine, load_catalog())
            results[engine] = standings_of(table)
    for engine in engines:
        assert results[engine] == results[ScoringEngine.PYTHON]
    lacie = next(s for s in results[ScoringEngine.PYTHON] if s.subject_id == "lacie")
    assert (lacie.score, lacie.grade, lacie.measures) == (4.08, "GROUNDED", ())


def test_duckdb_connection_is_reusable_for_peer_schemes() -> None:
    con = ibis.duckdb.connect()
    scheme = parse_scheme(EXAMPLE).scheme
    rows = [_rating("1", "r1", "s1", 5, "2025-06-05")]
    first = score_table(scheme, _arrow(rows), DOC_AS_OF, con=con)
    second = score_table(scheme, _arrow(rows), DOC_AS_OF, con=con)
    assert first.equals(second)


def test_explain_prints_the_ratings_behind_a_peer_score(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from xinyong.cli.app import app

    scheme = tmp_path / "peer.toml"
    scheme.write_text(EXAMPLE + '\n[peer.safeguards]\nretaliation_window = "7d"\n')
    rows = [
        _rating("1", "r1", "s1", 1, "2025-06-05"),
        _rating("2", "s1", "r1", 1, "2025-06-06"),
    ]
    path = tmp_path / "ratings.jsonl"
    path.write_bytes(
        b"\n".join(orjson.dumps({**r, "occurred_at": r["occurred_at"].isoformat()}) for r in rows)
    )
    args = [
        "explain",
        str(scheme),
        "--records",
        str(path),
        "--subject",
        "r1",
        "--as-of",
        "2025-06-30",
    ]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Ratings received (bayesian)" in result.output
    assert "retaliation" in result.output
    assert "peer score 3.0000" in result.output
    as_json = CliRunner().invoke(app, [*args, "--json"])
    assert orjson.loads(as_json.output)["peer"]["ratings"][0]["weight"] == 0


def test_seeds_who_rated_nobody_are_an_error_not_a_prior_for_everyone(tmp_path: Path) -> None:
    seeded = EXAMPLE.replace(
        'algorithm = "bayesian"', 'algorithm = "eigentrust"\nseeds = ["town-01", "town-02"]'
    )
    model = parse_scheme(seeded).scheme
    rows = [_rating("1", "r1", "s1", 5, "2025-06-05"), _rating("2", "r2", "s1", 1, "2025-06-06")]
    with pytest.raises(SeedsAbsent, match="none of the peer seeds"):
        score_records(model, [InputRecord(**r) for r in rows], DOC_AS_OF)
    with pytest.raises(SeedsAbsent):
        score_table(model, _arrow(rows), DOC_AS_OF)
    # one seed who rates someone is enough for trust to flow
    ok = [*rows, _rating("3", "town-01", "r1", 5, "2025-06-07")]
    assert score_records(model, [InputRecord(**r) for r in ok], DOC_AS_OF)
    scheme_file = tmp_path / "seeded.toml"
    scheme_file.write_text(seeded, encoding="utf-8")
    from typer.testing import CliRunner

    from xinyong.cli.app import app

    records = tmp_path / "ratings.parquet"
    pq.write_table(_arrow(rows), records)
    told = CliRunner().invoke(
        app,
        ["score", str(scheme_file), "--records", str(records), "--as-of", str(DOC_AS_OF)],
    )
    assert told.exit_code == 2, told.output
    assert "none of the peer seeds (town-01, town-02) rated anyone" in told.output
    assert "Traceback" not in told.output
