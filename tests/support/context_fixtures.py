"""A context over a seeded ledger, without any app: for the use cases called directly."""

from __future__ import annotations

from tests.support.overridden import add_overridden
from tests.support.service_fixtures import OTHER, PERSON, SCHEME, START, Clock
from tests.support.web_fixtures import RECORDS
from xinyong.application.changes import after_changes
from xinyong.application.context import Context
from xinyong.application.settings import ServiceSettings
from xinyong.domain.catalog import load_catalog
from xinyong.ingest.records import ingest_rows
from xinyong.ledger.database import open_database
from xinyong.schemes.load import load_scheme


def seeded_context(url: str, clock: Clock | None = None) -> Context:
    """The example scheme active and the portal's records (``PERSON``'s default ``bank/d1`` and
    positive ``bank/v1``, ``OTHER``'s ``bank/j1``) appended and refreshed, on ``clock`` (from
    ``START``). Close with :func:`close_context`."""
    engine = open_database(url)
    with engine.begin() as conn:
        add_overridden(conn, load_scheme(SCHEME))
    settings = ServiceSettings(today=clock or Clock())
    ctx = Context.create(engine, load_catalog(), settings)
    report = ingest_rows(engine, RECORDS, ctx.catalog, source="bank", today=START)
    assert report.accepted == len(RECORDS), report.rejects
    after_changes(ctx, [PERSON, OTHER])
    return ctx


def close_context(ctx: Context) -> None:
    """Close what :func:`seeded_context` opened."""
    ctx.inquiries.close()
    ctx.engine.dispose()
