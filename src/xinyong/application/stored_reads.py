"""Checks answered from stored standings on the event loop, when the ledger is on PostgreSQL.

On a database server every read is a network round trip. The general path
(:func:`~xinyong.decisions.checks.decide_measure`) runs on a worker thread with a pooled
SQLAlchemy connection: a thread handoff, a ping, BEGIN and COMMIT around the reads, and each
statement parsed and planned again. A check that a stored standing answers needs one statement,
:data:`~xinyong.decisions.precomputed.CURRENT`, which needs no transaction. Here it runs on an
asynchronous psycopg connection from a small pool (autocommit, the statement prepared once per
connection), without leaving the event loop, and for all the checks waiting at that moment in one
statement (:class:`StoredReads`).

Everything else such a check needs comes from the service's caches: the caller's registered
measures, the active scheme of the measure, the newest stored run. When one of them must be read,
when the stored standing does not answer, or when the read fails, the check takes the general
path, which reads and fills the caches. The answer is the same either way: the same functions
decide (:func:`~xinyong.decisions.checks.purpose`,
:func:`~xinyong.decisions.checks.stored_decision`, :func:`~xinyong.decisions.precomputed.current`);
only the way the statement reaches the server differs.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date
from typing import Any

import orjson
import psycopg
from anyio import to_thread
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import Engine

from xinyong.decisions.checks import (
    Checked,
    Purpose,
    Registrations,
    purpose,
    stored_decision,
)
from xinyong.decisions.precomputed import (
    CURRENT_MANY,
    Precomputed,
    PrecomputedStandings,
    current,
)
from xinyong.decisions.standing import SchemeRegistry
from xinyong.ledger.database import CHECK_CONNECTION, PLAN_ONCE, libpq_url
from xinyong.ttl import MISSING, Missing

__all__ = ["StoredReads", "stored_reads_for"]

log = logging.getLogger("xinyong.checks")


MAX_BATCH = 256
"""The most subjects read in one statement."""

_Waiting = list[tuple[str, "asyncio.Future[Precomputed | Missing | None]"]]


class StoredReads:
    """A pool of asynchronous connections that read stored standings for checks, in batches.

    Checks that arrive together are read together: the subjects waiting when a connection is
    free go in one statement (:data:`~xinyong.decisions.precomputed.CURRENT_MANY`), so that the
    server starts one execution for all of them and the ledger-wide probes run once. Alone, a
    check is a batch of one. At most ``size`` statements are in flight; meanwhile the next
    batch collects.
    """

    def __init__(self, engine: Engine, conninfo: str, size: int) -> None:
        self._engine = engine
        self._dialect = engine.dialect
        self._refilling: asyncio.Future[None] | None = None
        self._conninfo = conninfo
        self._size = size
        self._pool: AsyncConnectionPool | None = None
        self._lanes = size
        self._pending: dict[tuple[str, int], _Waiting] = {}
        self._flushing = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def open(self) -> None:
        """Connect, on the event loop that will use the pool (a new pool each time the app is
        served)."""
        self._refilling = None
        self._lanes, self._pending, self._flushing = self._size, {}, False
        self._pool = AsyncConnectionPool(
            self._conninfo,
            min_size=self._size,
            max_size=self._size,
            open=False,
            kwargs=dict(CHECK_CONNECTION),
            configure=_plan_once,
            name="xinyong-stored-reads",
        )
        await self._pool.open(wait=True, timeout=30.0)

    async def close(self) -> None:
        """Close every connection."""
        if self._pool is not None:
            await self._pool.close()

    async def decide(
        self,
        registry: SchemeRegistry,
        registrations: Registrations,
        precomputed: PrecomputedStandings,
        relying_party: str,
        subject_id: str,
        measure: str,
        today: date,
    ) -> Checked | None:
        """The decision (and adverse notice) from a current stored standing, read on the event
        loop; None when the
        check must take the general path. Raises as the general path would for a measure the
        caller may not check or that no active scheme defines (known from the caches).

        When a cache entry it needs has expired, the entries are read again on a worker thread
        first, once for all the checks that find them missing at the same moment (every
        ``cache_seconds``, a whole wave of concurrent checks would otherwise be computed).
        """
        cached = _cached(
            registry, registrations, precomputed, relying_party, subject_id, measure, today
        )
        if cached is MISSING:
            await self._refill(registry, registrations, precomputed, relying_party, measure, today)
            cached = _cached(
                registry, registrations, precomputed, relying_party, subject_id, measure, today
            )
        if cached is MISSING:
            return None
        found, params = cached
        if params is None:
            return None
        stored = await self._read(str(params["run_id"]), int(str(params["since"])), subject_id)
        if stored is MISSING:
            return None
        return stored_decision(found, stored, relying_party, subject_id, measure, today)

    async def _refill(
        self,
        registry: SchemeRegistry,
        registrations: Registrations,
        precomputed: PrecomputedStandings,
        relying_party: str,
        measure: str,
        today: date,
    ) -> None:
        """Read the cache entries a check needs, on a worker thread; concurrent callers wait
        for the refill under way instead of starting their own."""

        def fill() -> None:
            try:
                with self._engine.connect() as conn:
                    found = purpose(conn, registry, registrations, relying_party, measure)
                    assert found is not MISSING  # read through conn
                    precomputed.probe(conn, found[0], "", today)
            except Exception:  # the check takes the general path, which reports it
                log.debug("could not refill the caches of a check", exc_info=True)

        if self._refilling is None or self._refilling.done():
            self._refilling = asyncio.ensure_future(to_thread.run_sync(fill))
        await asyncio.shield(self._refilling)

    def _read(
        self, run_id: str, since: int, subject_id: str
    ) -> asyncio.Future[Precomputed | Missing | None]:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Precomputed | Missing | None] = loop.create_future()
        self._pending.setdefault((run_id, since), []).append((subject_id, done))
        if not self._flushing:
            self._flushing = True
            # Let the requests that are already runnable join this batch before it is taken.
            loop.call_soon(self._flush)
        return done

    def _flush(self) -> None:
        self._flushing = False
        while self._pending and self._lanes > 0:
            key = next(iter(self._pending))
            waiting = self._pending[key]
            batch, rest = waiting[:MAX_BATCH], waiting[MAX_BATCH:]
            del self._pending[key]
            if rest:  # to the back of the queue: another run's checks go next
                self._pending[key] = rest
            self._lanes -= 1
            task = asyncio.get_running_loop().create_task(self._run(*key, batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, run_id: str, since: int, batch: _Waiting) -> None:
        found: dict[str, Precomputed | Missing | None] = {}
        try:
            subjects = orjson.dumps(sorted({subject for subject, _ in batch})).decode()
            params = {"subject_ids": subjects, "since": since, "run_id": run_id}
            sql, values = CURRENT_MANY.driver_call(self._dialect, params)
            assert self._pool is not None, "open() first"
            async with self._pool.connection() as conn:
                cursor = await conn.execute(sql, values)
                for subject, *row in await cursor.fetchall():
                    found[subject] = current(row)
        except Exception:  # whatever it was, the checks take the general path
            log.warning(
                "stored standings could not be read; the checks are computed", exc_info=True
            )
        finally:
            self._lanes += 1
            for subject, done in batch:
                if not done.done():
                    done.set_result(found.get(subject, MISSING))
            if self._pending and not self._flushing:
                self._flush()


async def _plan_once(conn: psycopg.AsyncConnection[Any]) -> None:
    await conn.execute(PLAN_ONCE)


def _cached(
    registry: SchemeRegistry,
    registrations: Registrations,
    precomputed: PrecomputedStandings,
    relying_party: str,
    subject_id: str,
    measure: str,
    today: date,
) -> tuple[Purpose, dict[str, object] | None] | Missing:
    """From the caches only: the measure's scheme and the parameters of the stored standing's
    read (None: no stored standing answers), or MISSING when an entry must be read first."""
    found = purpose(None, registry, registrations, relying_party, measure)
    if found is MISSING:
        return MISSING
    params = precomputed.probe(None, found[0], subject_id, today)
    return MISSING if params is MISSING else (found, params)


def stored_reads_for(engine: Engine, size: int) -> StoredReads | None:
    """Reads on the event loop for a PostgreSQL ledger reached through psycopg, else None."""
    conninfo = libpq_url(engine)
    return None if conninfo is None else StoredReads(engine, conninfo, size)
