"""Run one hand-written DuckDB query and write its result as Parquet: the (b) process of
``bench/score_random.py``, which imports DuckDB and nothing else.

    python bench/hand_sql.py QUERY.sql OUT.parquet [--threads 2]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb


def main(argv: list[str] | None = None) -> int:
    """Run the query in the file; write its rows to the output."""
    parser = argparse.ArgumentParser(description="run a query file, write Parquet")
    parser.add_argument("query", type=Path)
    parser.add_argument("out")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    con = duckdb.connect()
    con.execute(f"SET threads = {args.threads}")
    con.execute(f"COPY ({args.query.read_text()}) TO '{args.out}' (FORMAT parquet)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
