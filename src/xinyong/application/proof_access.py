"""Who may have the inclusion proof of an entry (its leaf hash), in each of the ledger's trees:
a leaf hash can confirm a guess (that a subject has a record, an objection, a check), so each
tree says whose entries a caller may see. The API's proof routes ask these before they prove.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, exists, select

from xinyong.application.keys import Principal, Role
from xinyong.domain.relations import in_file
from xinyong.ledger.proofs import entry_at
from xinyong.ledger.schema import inquiries

__all__ = ["MayProve", "may_see_entry", "operator_only", "own_inquiry"]


def may_see_entry(conn: Connection, caller: Principal, index: int) -> bool:
    """Whether ``caller`` may learn entry ``index``'s leaf hash."""
    if caller.role is Role.OPERATOR:
        return True
    entry = entry_at(conn, index)
    if entry is None:
        return False
    if caller.role is Role.SUBJECT:
        return in_file(caller.name, entry.subject_id, entry.code, entry.attrs)
    q = inquiries.c
    received = exists().where(
        q.relying_party == caller.name,
        q.subject_id == entry.subject_id,
        q.applies.is_(True),
        q.known_at > index,
    )
    return bool(conn.execute(select(received)).scalar())


MayProve = Callable[[Connection, Principal, int], bool]
"""Whether a caller may have the inclusion proof of a tree's entry (its leaf hash)."""


def operator_only(conn: Connection, caller: Principal, index: int) -> bool:
    """An operations-log entry: operators only (a leaf hash can confirm a guessed objection)."""
    return caller.role is Role.OPERATOR


def own_inquiry(conn: Connection, caller: Principal, index: int) -> bool:
    """An inquiry-log entry: operators any; a subject the checks made on them; a relying party
    its own checks."""
    if caller.role is Role.OPERATOR:
        return True
    q = inquiries.c
    row = conn.execute(select(q.subject_id, q.relying_party).where(q.position == index)).first()
    if row is None:
        return False
    if caller.role is Role.SUBJECT:
        return bool(row.subject_id == caller.name)
    return bool(row.relying_party == caller.name)
