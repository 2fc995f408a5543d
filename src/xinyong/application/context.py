"""What every use case and request handler needs: the database, catalog, schemes, settings and
clock, and the long-lived state of a running service (caches, the inquiry log, the rate limits).

One :class:`Context` is built per process (:meth:`Context.create`): by the app that serves the
API and the portal, by a background worker and by the submission process. Both transports read
the app's one context from its state (``request.app.state.context``)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from anyio import CapacityLimiter
from sqlalchemy import Connection, Engine, select

from xinyong.application.inquiry_log import InquiryLog
from xinyong.application.keys import Principal
from xinyong.application.ratelimit import RateLimiter, SharedBuckets, TokenBuckets
from xinyong.application.receipts import Receipts
from xinyong.application.settings import ServiceSettings
from xinyong.application.stored_reads import StoredReads, stored_reads_for
from xinyong.decisions.checks import Registrations
from xinyong.decisions.precomputed import PrecomputedStandings
from xinyong.decisions.standing import SchemeRegistry
from xinyong.domain.catalog import Catalog
from xinyong.due_process.active_schemes import ActiveSchemes
from xinyong.ledger.schema import ledger_identity
from xinyong.ledger.signed_head import ledger_key
from xinyong.ledger.signing import LedgerKey
from xinyong.ttl import TtlCache

__all__ = ["Context"]


@dataclass(frozen=True, slots=True)
class Context:
    """Shared, long-lived service state."""

    engine: Engine
    catalog: Catalog
    registry: SchemeRegistry
    settings: ServiceSettings
    buckets: RateLimiter
    registrations: Registrations
    principals: TtlCache[str, Principal | None]
    """Authenticated keys by the SHA-256 of the token (never the token itself)."""
    inquiries: InquiryLog
    """The inquiry log, written by this process in group commits."""
    precomputed: PrecomputedStandings
    """Stored standings that answer checks in one read while they are current."""
    stored_reads: StoredReads | None
    """PostgreSQL: reads of stored standings on the event loop (opened by the app's lifespan)."""
    kept: threading.local
    """Per thread, a connection kept open for the thread's reads (:meth:`reader`)."""
    keys: dict[str, LedgerKey]
    """The ledger's signing key, once read (:meth:`ledger_key`)."""
    receipts: Receipts
    """Signed receipts of decisions, with the purposes and tree heads they name cached."""
    proving: CapacityLimiter
    """The worker threads an adverse answer's receipt may use to prove its grounds: one, so that
    proofs waiting for the ledger's subtrees (a process's first, or a ledger being read while
    the service starts) hold one thread and wait on the event loop, not in the thread pool."""

    @classmethod
    def create(
        cls, engine: Engine, catalog: Catalog, settings: ServiceSettings, workers: int = 1
    ) -> Context:
        """A context with the caches sized by ``settings``, for one of ``workers`` web worker
        processes (they share the rate limits)."""
        seconds = settings.cache_seconds
        return cls(
            engine=engine,
            catalog=catalog,
            registry=SchemeRegistry(seconds, catalog),
            settings=settings,
            buckets=_rate_limiter(engine, settings, workers),
            registrations=Registrations(seconds),
            principals=TtlCache(seconds),
            inquiries=_inquiry_log(engine, settings),
            precomputed=PrecomputedStandings(seconds),
            stored_reads=stored_reads_for(engine, settings.read_connections),
            kept=threading.local(),
            keys={},
            receipts=Receipts(engine, seconds),
            proving=CapacityLimiter(1),
        )

    @property
    def local_database(self) -> bool:
        """Whether the ledger is a local SQLite file.

        Its point reads are then CPU work of a few microseconds, done on the event loop: handing
        them to a worker thread costs more than the reads. A database server is read from a
        worker thread, since a network round trip must not stall the loop.
        """
        return self.engine.dialect.name == "sqlite"

    def reader(self) -> Connection:
        """A connection kept open for this thread (the event loop's reads on SQLite): no pool
        round trip per request. Use it inside ``with conn.begin():``."""
        conn: Connection | None = getattr(self.kept, "conn", None)
        if conn is None or conn.closed:
            conn = self.kept.conn = self.engine.connect()
        return conn

    def ledger_key(self) -> LedgerKey:
        """The ledger's signing key (read, or created, on first use; settings ``signing_key``
        and ``ledger_origin``)."""
        key = self.keys.get("ledger")
        if key is None:
            with self.engine.connect() as conn:
                named = Path(self.settings.signing_key) if self.settings.signing_key else None
                key = ledger_key(conn, named, self.settings.ledger_origin)
            self.keys["ledger"] = key
        return key

    def active_schemes(self, conn: Connection) -> ActiveSchemes:
        """The scheme versions in force, with the catalog (for notices naming rules)."""
        return ActiveSchemes(self.registry.active(conn), self.catalog)

    def today(self) -> date:
        """The service's clock."""
        return self.settings.today()

    def configuration_changed(self) -> None:
        """Drop cached keys, registrations and active schemes (an operator changed them)."""
        self.registry.invalidate()
        self.registrations.invalidate()
        self.precomputed.invalidate()
        self.principals.clear()


def _rate_limiter(engine: Engine, settings: ServiceSettings, workers: int) -> RateLimiter:
    rate, burst = settings.rate_per_second, settings.burst
    if not settings.redis_url:
        return TokenBuckets.share(rate, burst, workers)
    with engine.connect() as conn:  # one namespace per ledger in a shared Redis
        ledger_id = conn.execute(select(ledger_identity.c.ledger_id)).scalar_one()
    return SharedBuckets(settings.redis_url, str(ledger_id), rate, burst)


def _inquiry_log(engine: Engine, settings: ServiceSettings) -> InquiryLog:
    return InquiryLog(engine, checkpoint_seconds=settings.inquiry_checkpoint_seconds)
