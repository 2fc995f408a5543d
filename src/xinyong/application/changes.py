"""After a change to subjects' records: refresh listings and push corrections."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date
from functools import cache

from xinyong.application.context import Context
from xinyong.domain.relations import RELATION_PREFIX
from xinyong.due_process.refresh import apply_refresh, plan_refresh
from xinyong.ledger.append import read_size
from xinyong.ledger.database import INQUIRY_SCHEMA, WRITE_LOCK, take_write_lock
from xinyong.ledger.related_index import people_named_by
from xinyong.schemes.load import LoadedScheme

__all__ = ["after_changes"]


def after_changes(
    ctx: Context,
    subject_ids: Iterable[str],
    today: date | None = None,
    *,
    codes: Mapping[str, Collection[str]] | None = None,
) -> list[str]:
    """Recompute the subjects' listings and queue corrections; return the queued message ids.

    ``codes``: for a subject whose only change is new records, the codes of those records. Such
    a subject is refreshed only when an active scheme reads one of them
    (:meth:`~xinyong.schemes.model.Scheme.reads_code`) or one relates people to it (their
    answers may extend from it): otherwise its standing under every active scheme is what it
    was before the records came, and so are its lists and its recent answers. Subjects not in
    ``codes`` are refreshed whatever.

    The standings, and the answers recent checks would get now, are worked out in a read
    transaction, so the write lock is held only to write what changed, usually nothing. If the
    ledger grew in between, the plan is worked out again under the lock, so a slower refresh
    never overwrites the result of a newer one. On SQLite the inquiry log's file is locked too
    only when an answer changed (the corrected decision is logged there): otherwise checks go on
    being logged while the records of a batch are refreshed.
    """
    ids = sorted(set(subject_ids))
    if not ids:
        return []
    today, window = today or ctx.today(), ctx.settings.correction_window_days
    with ctx.engine.connect() as conn, conn.begin():
        if codes is not None:
            ids = _affected(ctx.registry.active(conn), ids, codes)
            if not ids:
                return []
        # a measure that extends to an organisation's people: their answers may change too
        ids = sorted(set(ids) | people_named_by(conn, ids))
        plan = plan_refresh(conn, ctx.registry, ids, today, ctx.catalog, window)
    if plan.empty:
        return []
    with ctx.engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
        stale = read_size(conn) != plan.size
        if stale or plan.corrections:
            # Corrections are logged beside the checks they correct (after reading them anew,
            # if the ledger moved on): take the log's lock before reading it.
            take_write_lock(conn, INQUIRY_SCHEMA)
        if stale:
            plan = plan_refresh(conn, ctx.registry, ids, today, ctx.catalog, window)
        return apply_refresh(conn, plan, today, grace_days=ctx.settings.grace_days)


def _affected(
    active: Sequence[LoadedScheme], ids: list[str], codes: Mapping[str, Collection[str]]
) -> list[str]:
    """The subjects among ``ids`` whose new records (``codes``) can change what a refresh
    writes; those not in ``codes`` always can."""

    @cache
    def read(code: str) -> bool:
        if code.startswith(RELATION_PREFIX):
            return True
        return any(loaded.scheme.reads_code(code) for loaded in active)

    return [s for s in ids if s not in codes or any(read(code) for code in codes[s])]
