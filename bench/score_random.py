"""Scoring randomly generated schemes as whole processes, against SQL generated independently.

For ``--schemes`` schemes drawn at random (seeded) from a family of the scheme language, each
over the same synthetic Parquet records (``bench/score.py``'s cached ``xinyong synth`` file):

- **(a) xinyong**: ``xinyong score SCHEME.toml --records FILE.parquet --as-of D --out A.parquet``,
  the scheme version's SQL compiled by one untimed run first;
- **(b) by hand**: ``python bench/hand_sql.py QUERY.sql B.parquet``, a process that imports
  DuckDB only and runs SQL that :func:`hand_sql` writes for the scheme. :func:`hand_sql` is
  written from ``docs/schemes.md`` (sections 2 and 3) and shares no code with xinyong's
  compiler: it reads the scheme as a plain dict, and its display periods are its own table
  (:data:`DISPLAY_DAYS`, checked against the bundled catalog before the run).

(a) and (b) alternate ``--repeat`` times per scheme; the ratio of the medians is reported per
scheme, with the median and the worst over the schemes. The standings must agree for every
subject of every scheme: the run fails otherwise, so the benchmark is also an independent check
of the scoring semantics on a population of a million.

The family: persons, or persons and organizations; no eligibility, or consent required; a base
of 0, 100 or 1000, an optional floor and ceiling; two to eight rules, each matching an exact
code, a prefix or every code, with whole points, an optional term (days, weeks, months, years),
an optional cap, optional clearing codes and an optional veto; two to four graded bands; a
black list by rules and a red list by grades; a sanction and a reward. Not drawn: predicates
(``when``), points or terms from attributes, linear decay, assigned grades, minimum ages, peer
scores (the differential tests in ``tests/`` cover those against the reference evaluator).

Run as ``python bench/score_random.py`` (``--help`` for options).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from benchkit import machine, median
from score import AS_OF, synthesize
from score_process import Phase, check_display_days, mismatches, population_options, run_process

HAND = Path(__file__).with_name("hand_sql.py")
GOAL = 1.1
"""Issue 21: (a) at most this multiple of the hand-written query, as whole processes."""

DISPLAY_DAYS = {
    "civic.blood_donation": 730,
    "civic.commendation": 1095,
    "civic.volunteer_service": 365,
    "commitment.breached": 365,
    "commitment.made": 1095,
    "consent.given": 1825,
    "consent.withdrawn": 1825,
    "court.breach_judgment": 365,
    "court.defaulter": 1825,
    "court.judgment_performed": 1095,
    "env.pollution_violation": 1095,
    "finance.bank_arrears": 365,
    "finance.contract_default": 1825,
    "finance.fraud": 1095,
    "finance.illegal_fundraising": 1095,
    "finance.pyramid_selling": 1095,
    "finance.repaid": 1095,
    "market.abnormal_operations": 365,
    "market.abnormal_removed": 90,
    "market.admin_penalty": 365,
    "market.false_advertising": 365,
    "market.product_safety": 1095,
    "peer.interaction": 365,
    "peer.rating": 365,
    "relation.actual_controller": 36500,
    "relation.legal_representative": 36500,
    "tax.crime": 1095,
    "tax.evasion": 1095,
    "tax.invoice_fraud": 1095,
    "tax.late_filing": 365,
    "tax.late_payment": 365,
    "tax.new_taxpayer": 365,
    "tax.no_revenue": 365,
    "tax.paid": 1095,
    "traffic.drunk_driving": 1095,
    "traffic.violation": 90,
    "utility.equipment_damage": 365,
    "utility.late_fee": 90,
    "utility.paid": 90,
    "utility.theft": 365,
}
"""How long the catalog shows each code of the synthetic records (days), copied by hand."""

MATCHES = [
    *(code for code in DISPLAY_DAYS if not code.startswith(("consent.", "relation.", "peer."))),
    "finance.*",
    "utility.*",
    "civic.*",
    "court.*",
    "tax.*",
    "*",
]
CLEARING = ["finance.repaid", "court.judgment_performed", "utility.paid", "tax.paid"]
TERMS = ["30d", "90d", "2w", "6m", "1y", "2y", "3y"]


# ------------------------------------------------------------------------------ schemes


def _code_matches(pattern: str, code: str) -> bool:
    if pattern.endswith(".*"):
        return code.startswith(pattern[:-1])
    return pattern in ("*", code)


def _days(term: str) -> int:
    """A term in days as the linter counts them (a month 30, a year 365)."""
    return int(term[:-1]) * {"d": 1, "w": 7, "m": 30, "y": 365}[term[-1]]


def random_scheme(rng: random.Random, index: int) -> dict[str, Any]:
    """A scheme of the family, as the dict its TOML file parses to."""
    base = rng.choice([0, 100, 1000])
    bands = rng.randint(2, 4)
    mins = sorted(rng.sample(range(base - 200, base + 100, 10), bands - 1), reverse=True)
    names = ["A", "B", "C", "D"][:bands]
    grades: list[dict[str, Any]] = [
        {"name": n, "min": m} for n, m in zip(names, mins, strict=False)
    ]
    grades.append({"name": names[-1]})
    rules = []
    for i in range(rng.randint(2, 8)):
        rule: dict[str, Any] = {
            "id": f"r{i}",
            "match": rng.choice(MATCHES),
            "points": rng.choice([-100, -50, -30, -20, -10, -5, 5, 10, 20, 30]),
        }
        if rng.random() < 0.8:  # no longer than the catalog shows the codes (a lint error)
            shown = min(d for c, d in DISPLAY_DAYS.items() if _code_matches(rule["match"], c))
            rule["valid_for"] = rng.choice([t for t in TERMS if _days(t) <= shown])
        if rng.random() < 0.3:
            rule["cap"] = rng.choice([0, 20, 50, 100])
        if rng.random() < 0.4:
            rule["cleared_by"] = rng.sample(CLEARING, rng.randint(1, 2))
        if rng.random() < 0.15:
            rule["veto"] = rng.choice(names)
        rules.append(rule)
    scheme: dict[str, Any] = {
        "id": f"random-{index}",
        "name": f"random scheme {index}",
        "subject_kinds": rng.choice([["person"], ["person", "organization"]]),
        "base": base,
        "grades": grades,
        "rules": rules,
        "lists": [
            {"id": "black", "kind": "black", "rules": [r["id"] for r in rules[:2]]},
            {"id": "red", "kind": "red", "grades": [names[0]]},
        ],
        "measures": [
            {"id": "watch", "kind": "sanction", "lists": ["black"], "basis": "benchmark basis"},
            {"id": "perk", "kind": "reward", "lists": ["red"], "grades": names[:1]},
        ],
    }
    if rng.random() < 0.5:
        scheme["eligibility"] = {"consent": "required"}
    if rng.random() < 0.5:
        scheme["floor"] = base - 150
    if rng.random() < 0.5:
        scheme["ceiling"] = base + 60
    return scheme


def _toml_value(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return str(value)


def to_toml(scheme: dict[str, Any]) -> str:
    """The scheme as a TOML file (top-level keys, then arrays of tables and the tables)."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in scheme.items() if not isinstance(v, list | dict)]
    lines.append(f"subject_kinds = {_toml_value(scheme['subject_kinds'])}")
    for section in ("grades", "rules", "lists", "measures"):
        for item in scheme[section]:
            lines.append(f"\n[[{section}]]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in item.items()]
    if "eligibility" in scheme:
        lines.append("\n[eligibility]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in scheme["eligibility"].items()]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------ (b) by hand


def _quoted(values: list[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _matches(pattern: str) -> str:
    if pattern == "*":
        return "TRUE"
    if pattern.endswith(".*"):
        return f"starts_with(code, '{pattern[:-1]}')"
    return f"code = '{pattern}'"


def _alive(term: str | None, as_of: date) -> str:
    """``t`` is before the end of the record's term (docs/schemes.md section 2)."""
    if term is None:
        return "TRUE"
    n, unit = int(term[:-1]), term[-1]
    if unit in "dw":
        days = n * (7 if unit == "w" else 1)
        return f"occurred_at > DATE '{as_of - timedelta(days=days)}'"
    months = n * (12 if unit == "y" else 1)
    return f"DATE '{as_of}' < occurred_at + INTERVAL {months} MONTH"


def hand_sql(scheme: dict[str, Any], path: str, as_of: date) -> str:
    """The scheme's standings over the Parquet file ``path`` as one DuckDB query, from the
    contract's words: shown records, considered records, counting, rule totals, score, grade,
    lists and measures."""
    t = f"DATE '{as_of}'"
    kinds = _quoted(scheme["subject_kinds"])
    periods: dict[int, list[str]] = {}
    for code, days in DISPLAY_DAYS.items():
        periods.setdefault(days, []).append(code)
    hidden = " OR ".join(
        f"(code IN ({_quoted(codes)}) AND occurred_at <= DATE '{as_of - timedelta(days=days)}')"
        for days, codes in periods.items()
    )
    rules = scheme["rules"]
    clearing_sets = sorted({tuple(sorted(r["cleared_by"])) for r in rules if r.get("cleared_by")})
    cleared_cols = ", ".join(
        f"max(occurred_at) FILTER (WHERE code IN ({_quoted(list(s))})) AS cleared_{i}"
        for i, s in enumerate(clearing_sets)
    )
    counts = []
    for r in rules:
        condition = f"{_matches(r['match'])} AND {_alive(r.get('valid_for'), as_of)}"
        if r.get("cleared_by"):
            i = clearing_sets.index(tuple(sorted(r["cleared_by"])))
            condition += f" AND NOT coalesce(k.cleared_{i} >= c.occurred_at, false)"
        counts.append(f"count(*) FILTER (WHERE {condition}) AS n_{r['id']}")
    totals = []
    for r in rules:
        total = f"{r['points']} * coalesce(n_{r['id']}, 0)"
        if "cap" in r:
            total = f"least(greatest({total}, -{r['cap']}), {r['cap']})"
        totals.append(total)
    raw = f"{scheme['base']} + " + " + ".join(totals) if totals else str(scheme["base"])
    if "floor" in scheme:
        raw = f"greatest({raw}, {scheme['floor']})"
    if "ceiling" in scheme:
        raw = f"least({raw}, {scheme['ceiling']})"
    grades = scheme["grades"]
    by_score = " ".join(
        f"WHEN score >= {g['min']} THEN {i}" for i, g in enumerate(grades) if "min" in g
    )
    rank = f"CASE {by_score} ELSE {len(grades) - 1} END"
    names = {g["name"]: i for i, g in enumerate(grades)}
    for r in rules:
        if "veto" in r:
            rank = f"greatest({rank}, CASE WHEN n_{r['id']} > 0 THEN {names[r['veto']]} ELSE 0 END)"
    grade_names = "[" + _quoted([g["name"] for g in grades]) + "]"

    def member(item: dict[str, Any], on: str) -> str:
        parts = [f"rank = {names[g]}" for g in item.get("grades", [])]
        parts += [f"coalesce(n_{rid}, 0) > 0" for rid in item.get("rules", [])]
        parts += [f"on_{lid}" for lid in item.get("lists", [])]
        return f"({' OR '.join(parts) or 'FALSE'}) AS {on}"

    lists = ", ".join(member(x, f"on_{x['id']}") for x in scheme["lists"])
    measures = ", ".join(member(x, f"gets_{x['id']}") for x in scheme["measures"])
    list_ids = sorted(x["id"] for x in scheme["lists"])
    measure_ids = sorted(x["id"] for x in scheme["measures"])
    joined_lists = ", ".join(f"CASE WHEN on_{i} THEN '{i}' END" for i in list_ids)
    joined_measures = ", ".join(f"CASE WHEN gets_{i} THEN '{i}' END" for i in measure_ids)
    if scheme.get("eligibility", {}).get("consent") == "required":
        eligible = """
    SELECT subject_id FROM considered
    WHERE code IN ('consent.given', 'consent.withdrawn')
    GROUP BY subject_id
    HAVING max(occurred_at) FILTER (WHERE code = 'consent.given') IS NOT NULL
       AND coalesce(max(occurred_at) FILTER (WHERE code = 'consent.given')
                    > max(occurred_at) FILTER (WHERE code = 'consent.withdrawn'), true)"""
    else:
        eligible = "SELECT subject_id FROM named"
    settled = (
        f"""settled AS (
    SELECT subject_id, case_id, {cleared_cols}
    FROM considered WHERE case_id IS NOT NULL AND case_id <> ''
    GROUP BY subject_id, case_id
),"""
        if clearing_sets
        else "settled AS (SELECT NULL AS subject_id, NULL AS case_id),"
    )
    return f"""
WITH named AS (
    SELECT DISTINCT subject_id FROM read_parquet('{path}') WHERE subject_kind IN ({kinds})
),
considered AS NOT MATERIALIZED (
    SELECT subject_id, code, occurred_at, nullif(case_id, '') AS case_id
    FROM read_parquet('{path}')
    WHERE subject_kind IN ({kinds}) AND occurred_at <= {t}
      AND NOT coalesce({hidden}, false)
),
{settled}
counted AS (
    SELECT c.subject_id, {", ".join(counts) if counts else "0 AS nothing"}
    FROM considered AS c
    LEFT JOIN settled AS k ON k.subject_id = c.subject_id AND k.case_id = c.case_id
    GROUP BY c.subject_id
),
scored AS (
    SELECT e.subject_id, round(CAST({raw} AS DOUBLE), 2) AS score,
           counted.* EXCLUDE (subject_id)
    FROM ({eligible}) AS e
    JOIN named USING (subject_id)
    LEFT JOIN counted USING (subject_id)
),
graded AS (SELECT *, {rank} AS rank FROM scored),
listed AS (SELECT *, {lists} FROM graded),
measured AS (SELECT *, {measures} FROM listed)
SELECT subject_id, score, {grade_names}[rank + 1] AS grade,
       concat_ws(';', {joined_lists}) AS lists,
       concat_ws(';', {joined_measures}) AS measures
FROM measured
ORDER BY subject_id
"""


# ------------------------------------------------------------------------------ the run


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 1 when xinyong and the hand-written SQL disagree."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--schemes", type=int, default=5, help="random schemes")
    parser.add_argument("--scheme-seed", type=int, default=21, help="seed of the schemes")
    population_options(parser)
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    problems = check_display_days(DISPLAY_DAYS)
    if problems:
        print("\n".join(problems) + "\nupdate DISPLAY_DAYS to match", file=sys.stderr)
        return 1
    records, _, _ = synthesize(args)
    folder = args.workdir / "random-schemes"
    folder.mkdir(exist_ok=True)
    env = {**os.environ, "XINYONG_CACHE_DIR": str(folder / "cache")}
    rng = random.Random(args.scheme_seed)
    results = []
    for index in range(args.schemes):
        scheme = random_scheme(rng, index)
        toml, sql = folder / f"scheme-{index}.toml", folder / f"scheme-{index}.sql"
        toml.write_text(to_toml(scheme))
        sql.write_text(hand_sql(scheme, str(records), AS_OF))
        out_a, out_b = folder / f"a-{index}.parquet", folder / f"b-{index}.parquet"
        xinyong = [sys.executable, "-m", "xinyong", "score", str(toml), "--records"]
        xinyong += [str(records), "--as-of", AS_OF.isoformat(), "--out", str(out_a)]
        hand = [sys.executable, str(HAND), str(sql), str(out_b)]
        run_process(xinyong, env)  # compiles the version's SQL: not timed
        phases = {"a": Phase("(a) xinyong score"), "b": Phase("(b) hand-written SQL")}
        for _ in range(args.repeat):
            for name, command in (("a", xinyong), ("b", hand)):
                seconds, peak = run_process(command, env)
                phases[name].seconds.append(seconds)
                phases[name].peak_mib.append(peak)
        wrong = mismatches(out_a, out_b)
        ratio = phases["a"].median / phases["b"].median
        print(
            f"scheme {index}: (a) {phases['a'].median:.2f} s, (b) {phases['b'].median:.2f} s, "
            f"{ratio:.2f}; {wrong} subjects differ",
            file=sys.stderr,
        )
        results.append(
            {
                "scheme": scheme,
                "phases": {n: {**vars(p), "median": p.median} for n, p in phases.items()},
                "a_over_b": ratio,
                "mismatches": wrong,
            }
        )
    ratios = [r["a_over_b"] for r in results]
    wrong_total = sum(r["mismatches"] for r in results)
    summary = {
        "machine": machine("duckdb"),
        "records_file": str(records),
        "schemes": results,
        "median_a_over_b": median(ratios),
        "worst_a_over_b": max(ratios),
        "goal": GOAL,
        "mismatches": wrong_total,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"(a)/(b) median over {len(ratios)} schemes {median(ratios):.2f}", end="")
        print(f", worst {max(ratios):.2f}")
        print(f"{wrong_total} subjects whose standings differ")
    return 1 if wrong_total else 0


if __name__ == "__main__":
    sys.exit(main())
