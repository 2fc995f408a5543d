"""Running compiled schemes inside PostgreSQL, on the ledger's own tables.

Nothing leaves the database but the standings: the effective-records filter, the subjects'
newest versions and the whole scheme run as one SQL query (see ``xinyong score --show-sql``).
A scheme with ``[peer]`` is the exception: its rating records are read out, the rating graph is
iterated in NumPy, and the peer scores join the query as a temporary table
(:func:`~xinyong.engines.backend.peer_scores_table`).

Everything runs in one transaction without server-side prepared statements, so the engine works
through PgBouncer in transaction mode too: there a temporary table created in one transaction
may be gone (on another server connection) in the next, and a prepared statement may meet a
server connection that already has one by that name.
"""

from __future__ import annotations

from datetime import date

import ibis
import pyarrow as pa
from sqlalchemy.engine import make_url

from xinyong.domain.catalog import Catalog
from xinyong.engines.backend import IbisBackend, standings_expr
from xinyong.ledger.effective import current_subjects_expr, effective_records_expr
from xinyong.schemes.model import Scheme

__all__ = ["connect", "score_in_database"]


def connect(url: str) -> ibis.BaseBackend:
    """An Ibis PostgreSQL connection from a SQLAlchemy-style URL."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"the postgres engine needs a postgresql:// database, not {url!r}")
    return ibis.postgres.connect(
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 5432,
        user=parsed.username,
        password=parsed.password,
        database=parsed.database,
        prepare_threshold=None,
    )


def score_in_database(
    url: str,
    scheme: Scheme,
    as_of: date,
    known_at: int | None,
    catalog: Catalog | None,
) -> pa.Table:
    """Standings computed by PostgreSQL over the ledger tables as known at ``known_at``."""
    con = connect(url)
    backend = IbisBackend(con)
    try:
        with con.begin():  # one transaction: see the module's docstring
            records = effective_records_expr(
                con.table("records"), con.table("events"), as_of, known_at, catalog
            )
            subjects = current_subjects_expr(con.table("subjects"), known_at)
            result = backend.to_arrow(standings_expr(backend, scheme, records, as_of, subjects))
    finally:
        con.disconnect()
    return result
