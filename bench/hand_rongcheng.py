"""The ``rongcheng`` pilot written by hand in DuckDB SQL: the baseline of the scoring benchmarks.

Nothing here is generated from the scheme or shares code with xinyong: it is what an analyst who
read ``src/xinyong/pilots/rongcheng.toml`` and the bundled catalog would write. ``bench/score.py``
runs :data:`HAND_SQL` in process over an Arrow table; ``bench/score_process.py`` runs this file
as a process of its own (it imports DuckDB and nothing else):

    python bench/hand_rongcheng.py RECORDS.parquet OUT.parquet --as-of 2026-10-31 [--checks]

which scores the Parquet file as ``xinyong score rongcheng --records`` does (the records the
catalog still shows on the as-of date, :data:`DISPLAY_DAYS`) and writes the standings, sorted by
subject, to ``OUT.parquet``. With ``--checks`` it first refuses a file that a careful script
would refuse (:data:`CHECKS_SQL`): rows without a subject, code or date or with another kind,
a subject named with two kinds, a subject id of no known shape (resident ID, USCC, plain).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, timedelta

import duckdb

# Terms are calendar terms: a record counts while the as-of date is before its date plus the
# term's months (3m, 1y = 12, 2y = 24, 3y = 36; DuckDB clamps to the month's last day, as the
# contract does). The records are those the catalog still shows on the as-of date (the same
# input for (a), (b) and (c): a file is scored as if ingested). A listing is cleared by a
# clearing record of the same subject and case dated on or after it; every clearing record
# that can clear a live listing is itself within a year, hence the 12 months in `settled`.
# Bank arrears count -10 per month of `months`, at most 3, and only when `months` is a JSON
# number from 0 up (a string, boolean, null, negative or missing `months`: no count). The
# synthetic months are whole, so the score needs no rounding; rewards are positive, so their
# caps only clip from above. Lists and measures are sorted ids joined by ';' (concat_ws skips
# NULLs).
HAND_SQL = """
WITH considered AS NOT MATERIALIZED (
    SELECT subject_id, code, occurred_at, case_id, attrs
    FROM {records}
    WHERE subject_kind = 'person' AND occurred_at <= DATE '{as_of}'
),
scored_subjects AS (
{eligible}
),
relevant AS (
    SELECT subject_id, code, occurred_at, case_id, attrs
    FROM considered
    WHERE (code IN ('finance.contract_default', 'court.breach_judgment', 'finance.bank_arrears',
                    'utility.theft', 'utility.equipment_damage', 'civic.volunteer_service')
           AND DATE '{as_of}' < occurred_at + INTERVAL 12 MONTH)
       OR (code IN ('finance.illegal_fundraising', 'finance.pyramid_selling', 'finance.fraud',
                    'civic.commendation') AND DATE '{as_of}' < occurred_at + INTERVAL 36 MONTH)
       OR (code = 'utility.late_fee' AND DATE '{as_of}' < occurred_at + INTERVAL 3 MONTH)
       OR (code = 'civic.blood_donation' AND DATE '{as_of}' < occurred_at + INTERVAL 24 MONTH)
),
settled AS (
    SELECT subject_id, case_id,
           max(occurred_at) FILTER (WHERE code = 'finance.repaid') AS repaid_on,
           max(occurred_at) FILTER (WHERE code = 'court.judgment_performed') AS performed_on,
           max(occurred_at) FILTER (WHERE code = 'utility.paid') AS paid_on
    FROM considered
    WHERE code IN ('finance.repaid', 'court.judgment_performed', 'utility.paid')
      AND case_id <> '' AND DATE '{as_of}' < occurred_at + INTERVAL 12 MONTH
    GROUP BY subject_id, case_id
),
live AS (
    SELECT r.subject_id, r.code,
           coalesce(s.repaid_on >= r.occurred_at, false) AS repaid,
           coalesce(s.performed_on >= r.occurred_at, false) AS performed,
           coalesce(s.paid_on >= r.occurred_at, false) AS paid,
           CASE WHEN r.code = 'finance.bank_arrears'
                 AND json_type(r.attrs, '$.months') IN ('BIGINT', 'UBIGINT', 'DOUBLE')
                THEN least(CAST(json_extract(r.attrs, '$.months') AS DOUBLE), 3) END AS months
    FROM relevant AS r
    LEFT JOIN settled AS s ON s.subject_id = r.subject_id AND s.case_id = r.case_id
),
per_subject AS (
    SELECT subject_id,
        - 20 * count(*) FILTER (WHERE code = 'finance.contract_default' AND NOT repaid)
        - 50 * count(*) FILTER (WHERE code = 'court.breach_judgment' AND NOT performed)
        - 10 * coalesce(sum(months) FILTER (WHERE code = 'finance.bank_arrears' AND NOT repaid
                                             AND months >= 0), 0)
        - 40 * count(*) FILTER (WHERE code = 'finance.illegal_fundraising')
        - 30 * count(*) FILTER (WHERE code = 'finance.pyramid_selling')
        - 30 * count(*) FILTER (WHERE code = 'finance.fraud')
        - 20 * count(*) FILTER (WHERE code = 'utility.late_fee' AND NOT paid)
        - 60 * count(*) FILTER (WHERE code = 'utility.theft')
        - 100 * count(*) FILTER (WHERE code = 'utility.equipment_damage')
        + least(20, 10 * count(*) FILTER (WHERE code = 'civic.blood_donation'))
        + least(20, 5 * count(*) FILTER (WHERE code = 'civic.volunteer_service'))
        + least(60, 30 * count(*) FILTER (WHERE code = 'civic.commendation'))
          AS points,
        bool_or(code IN ('finance.illegal_fundraising', 'finance.pyramid_selling',
                         'finance.fraud', 'utility.equipment_damage')) AS black
    FROM live
    GROUP BY subject_id
),
graded AS (
    SELECT s.subject_id, coalesce(p.black, false) AS black,
           CAST(greatest(1000 + coalesce(p.points, 0), 0) AS DOUBLE) AS score
    FROM scored_subjects AS s LEFT JOIN per_subject AS p USING (subject_id)
),
listed AS (
    SELECT subject_id, score, black, score >= 1030 AS red,
           CASE WHEN score >= 1050 THEN 'AAA' WHEN score >= 1030 THEN 'AA'
                WHEN score >= 960 THEN 'A' WHEN score >= 850 THEN 'B'
                WHEN score >= 600 THEN 'C' ELSE 'D' END AS grade
    FROM graded
)
SELECT subject_id, score, grade,
       concat_ws(';', CASE WHEN black THEN 'black-list' END,
                      CASE WHEN red THEN 'red-list' END) AS lists,
       concat_ws(';', CASE WHEN red THEN 'deposit-free-bikes' END,
                      CASE WHEN black THEN 'enhanced-supervision' END,
                      CASE WHEN red THEN 'green-channel' END,
                      CASE WHEN black THEN 'no-honours' END) AS measures
FROM listed
ORDER BY subject_id
"""

# [eligibility]: persons 18 or over on the as-of date (full years from the resident ID's birth
# date: a year less while this year's birthday is still to come) whose latest consent record is
# a consent.given (a withdrawal on the same day wins). Only a subject with a consent record can
# be scored, so only the consent records are grouped.
ELIGIBLE_SQL = """
    SELECT subject_id FROM considered
    WHERE code IN ('consent.given', 'consent.withdrawn')
      AND regexp_full_match(subject_id, '[0-9]{{17}}[0-9X]')
    GROUP BY subject_id
    HAVING year(DATE '{as_of}') - CAST(substr(subject_id, 7, 4) AS INTEGER)
           - CASE WHEN month(DATE '{as_of}') * 100 + day(DATE '{as_of}')
                       < CAST(substr(subject_id, 11, 4) AS INTEGER) THEN 1 ELSE 0 END >= 18
       AND max(occurred_at) FILTER (WHERE code = 'consent.given') IS NOT NULL
       AND coalesce(max(occurred_at) FILTER (WHERE code = 'consent.given')
                    > max(occurred_at) FILTER (WHERE code = 'consent.withdrawn'), true)
"""

# A diagnostic, not the ceiling: the same pilot in one pass over every record, without reading
# only the scheme's codes first (the shape of the compiled query, written by hand).
HAND_SQL_ONE_PASS = """
WITH considered AS NOT MATERIALIZED (
    SELECT subject_id, code, occurred_at, case_id, attrs
    FROM {records}
    WHERE subject_kind = 'person' AND occurred_at <= DATE '{as_of}'
),
settled AS (
    SELECT subject_id, case_id,
           max(occurred_at) FILTER (WHERE code = 'finance.repaid') AS repaid_on,
           max(occurred_at) FILTER (WHERE code = 'court.judgment_performed') AS performed_on,
           max(occurred_at) FILTER (WHERE code = 'utility.paid') AS paid_on
    FROM considered
    WHERE code IN ('finance.repaid', 'court.judgment_performed', 'utility.paid')
      AND case_id <> ''
    GROUP BY subject_id, case_id
),
live AS (
    SELECT c.subject_id, c.code,
           DATE '{as_of}' < c.occurred_at + INTERVAL 3 MONTH AS m3,
           DATE '{as_of}' < c.occurred_at + INTERVAL 12 MONTH AS y1,
           DATE '{as_of}' < c.occurred_at + INTERVAL 24 MONTH AS y2,
           DATE '{as_of}' < c.occurred_at + INTERVAL 36 MONTH AS y3,
           coalesce(s.repaid_on >= c.occurred_at, false) AS repaid,
           coalesce(s.performed_on >= c.occurred_at, false) AS performed,
           coalesce(s.paid_on >= c.occurred_at, false) AS paid,
           CASE WHEN c.code = 'finance.bank_arrears'
                 AND json_type(c.attrs, '$.months') IN ('BIGINT', 'UBIGINT', 'DOUBLE')
                THEN least(CAST(json_extract(c.attrs, '$.months') AS DOUBLE), 3) END AS months
    FROM considered AS c
    LEFT JOIN settled AS s ON s.subject_id = c.subject_id AND s.case_id = c.case_id
),
per_subject AS (
    SELECT subject_id,
        - 20 * count(*) FILTER (WHERE code = 'finance.contract_default' AND y1
                                  AND NOT repaid)
        - 50 * count(*) FILTER (WHERE code = 'court.breach_judgment' AND y1
                                  AND NOT performed)
        - 10 * coalesce(sum(months) FILTER (WHERE code = 'finance.bank_arrears' AND y1
                                             AND NOT repaid AND months >= 0), 0)
        - 40 * count(*) FILTER (WHERE code = 'finance.illegal_fundraising' AND y3)
        - 30 * count(*) FILTER (WHERE code = 'finance.pyramid_selling' AND y3)
        - 30 * count(*) FILTER (WHERE code = 'finance.fraud' AND y3)
        - 20 * count(*) FILTER (WHERE code = 'utility.late_fee' AND m3 AND NOT paid)
        - 60 * count(*) FILTER (WHERE code = 'utility.theft' AND y1)
        - 100 * count(*) FILTER (WHERE code = 'utility.equipment_damage' AND y1)
        + least(20, 10 * count(*) FILTER (WHERE code = 'civic.blood_donation' AND y2))
        + least(20, 5 * count(*) FILTER (WHERE code = 'civic.volunteer_service' AND y1))
        + least(60, 30 * count(*) FILTER (WHERE code = 'civic.commendation' AND y3))
          AS points,
        bool_or((code IN ('finance.illegal_fundraising', 'finance.pyramid_selling',
                          'finance.fraud') AND y3)
                OR (code = 'utility.equipment_damage' AND y1)) AS black
    FROM live
    WHERE subject_id IN (
{eligible}
    )
    GROUP BY subject_id
),
listed AS (
    SELECT subject_id, score, black, score >= 1030 AS red,
           CASE WHEN score >= 1050 THEN 'AAA' WHEN score >= 1030 THEN 'AA'
                WHEN score >= 960 THEN 'A' WHEN score >= 850 THEN 'B'
                WHEN score >= 600 THEN 'C' ELSE 'D' END AS grade
    FROM (SELECT subject_id, black, CAST(greatest(1000 + points, 0) AS DOUBLE) AS score
          FROM per_subject)
)
SELECT subject_id, score, grade,
       concat_ws(';', CASE WHEN black THEN 'black-list' END,
                      CASE WHEN red THEN 'red-list' END) AS lists,
       concat_ws(';', CASE WHEN red THEN 'deposit-free-bikes' END,
                      CASE WHEN black THEN 'enhanced-supervision' END,
                      CASE WHEN red THEN 'green-channel' END,
                      CASE WHEN black THEN 'no-honours' END) AS measures
FROM listed
ORDER BY subject_id
"""


def hand_sql(template: str, records: str, as_of: date) -> str:
    """A hand-written query over the table or view ``records``."""
    eligible = ELIGIBLE_SQL.format(as_of=as_of.isoformat())
    return template.format(records=records, as_of=as_of.isoformat(), eligible=eligible)


DISPLAY_DAYS = {
    "utility.late_fee": 90,
    "utility.paid": 90,
    "civic.volunteer_service": 365,
    "court.breach_judgment": 365,
    "finance.bank_arrears": 365,
    "utility.equipment_damage": 365,
    "utility.theft": 365,
    "civic.blood_donation": 730,
    "civic.commendation": 1095,
    "court.judgment_performed": 1095,
    "finance.fraud": 1095,
    "finance.illegal_fundraising": 1095,
    "finance.pyramid_selling": 1095,
    "finance.repaid": 1095,
    "consent.given": 1825,
    "consent.withdrawn": 1825,
    "finance.contract_default": 1825,
}
"""How long the bundled catalog shows each code the pilot reads (its ``max_display_days``),
copied by hand; ``bench/score_process.py`` stops if the catalog says otherwise."""


def displayed_sql(path: str, as_of: date) -> str:
    """The records of ``path`` the catalog still shows on ``as_of``, as a subquery."""
    periods: dict[int, list[str]] = {}
    for code, days in DISPLAY_DAYS.items():
        periods.setdefault(days, []).append(f"'{code}'")
    hidden = " OR ".join(
        f"(code IN ({', '.join(codes)}) AND occurred_at <= DATE '{as_of - timedelta(days=days)}')"
        for days, codes in periods.items()
    )
    return f"(SELECT * FROM read_parquet('{path}') WHERE NOT coalesce({hidden}, false))"


CHECKS_SQL = """
WITH kinds AS (
    SELECT subject_id, count(DISTINCT subject_kind) AS n
    FROM read_parquet('{path}')
    GROUP BY subject_id
)
SELECT
    (SELECT count(*) FROM read_parquet('{path}')
     WHERE subject_id IS NULL OR trim(subject_id) = '' OR code IS NULL OR trim(code) = ''
        OR subject_kind IS NULL OR subject_kind NOT IN ('person', 'organization')
        OR occurred_at IS NULL) AS bad_rows,
    (SELECT count(*) FROM kinds WHERE n > 1) AS two_kinds,
    (SELECT count(*) FROM kinds
     WHERE NOT regexp_full_match(
         subject_id,
         '[0-9]{{17}}[0-9X]|[0-9A-HJ-NPQRTUWXY]{{18}}|[A-Za-z0-9][A-Za-z0-9._:@-]{{0,63}}'))
        AS odd_ids
"""


def main(argv: list[str] | None = None) -> int:
    """Score a Parquet file with the hand-written query; 2 when ``--checks`` refuses it."""
    parser = argparse.ArgumentParser(description="rongcheng by hand, over a Parquet file")
    parser.add_argument("records")
    parser.add_argument("out")
    parser.add_argument("--as-of", type=date.fromisoformat, required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--checks", action="store_true", help="refuse a file with bad rows")
    args = parser.parse_args(argv)
    con = duckdb.connect()
    con.execute(f"SET threads = {args.threads}")
    if args.checks:
        found = con.sql(CHECKS_SQL.format(path=args.records)).fetchall()[0]
        if any(found):
            print(f"refused: bad rows, two kinds, odd ids = {found}", file=sys.stderr)
            return 2
    query = hand_sql(HAND_SQL, displayed_sql(args.records, args.as_of), args.as_of)
    con.execute(f"COPY ({query}) TO '{args.out}' (FORMAT parquet)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
