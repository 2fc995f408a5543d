"""What an objection and a repair request share: a subject's request about one of their own
records, open until it is decided once, with a written reason, by an operator (or closed by the
system), the decision logged and noticed to the subject.

The two differ in what they ask and what a decision in their favour does to the record (an
upheld objection revokes it, an approved repair ends its effect from that day); the steps around
it are this module's, written once: refuse what cannot be decided, then close the request and
tell the subject, naming the rules and scheme versions the record counted under before the
decision and the standing after it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from sqlalchemy import Column, Connection, Row, Table, select, update

from xinyong.decisions.notices import issue_notice
from xinyong.domain.refusals import AlreadyDecided, NotAllowed, NotFound
from xinyong.domain.text import plain_or_raise
from xinyong.due_process.active_schemes import ActiveSchemes
from xinyong.ledger.append import utc_now_text
from xinyong.ledger.operations import log_rows
from xinyong.ledger.schema import objections, repairs

__all__ = [
    "OBJECTIONS",
    "REPAIRS",
    "Counted",
    "RecordRequest",
    "RequestKind",
    "close_request",
    "open_request",
]


@dataclass(frozen=True, slots=True)
class RequestKind:
    """A kind of request about a record: its table and how messages and notices name it."""

    table: Table
    id_name: str
    """Its id's column, also the id's name in refusals and notices."""
    noun: str
    """As refusals name one: "objection", "repair request"."""
    notice: str
    """The notice of a decision: ``{notice}-{status}``."""

    @property
    def id_column(self) -> Column[Any]:
        return self.table.c[self.id_name]

    def get(self, conn: Connection, request_id: str) -> Row[Any]:
        """The request's row; NotFound when there is none."""
        row = conn.execute(select(self.table).where(self.id_column == request_id)).first()
        if row is None:
            raise NotFound(f"no {self.noun} {request_id}")
        return row


OBJECTIONS = RequestKind(objections, "objection_id", "objection", "objection")
REPAIRS = RequestKind(repairs, "repair_id", "repair request", "repair")


class RecordRequest(Protocol):
    """An objection or a repair request, as :func:`close_request` reads it (and its id, the
    attribute its kind names)."""

    @property
    def subject_id(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def record_id(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Counted:
    """What a decision's notice tells of the record's effect: the rules and scheme versions it
    counted under before the decision (``ActiveSchemes.record_effect``), and the subject's
    standing under those schemes after it."""

    active: ActiveSchemes
    before: list[dict[str, Any]]


def open_request(conn: Connection, kind: RequestKind, request_id: str, reason: str) -> Row[Any]:
    """The open request an operator decides with ``reason``: NotFound for an unknown id,
    NotAllowed without a written reason, AlreadyDecided for one decided already."""
    plain_or_raise(NotFound, **{kind.id_name: request_id})  # no request has such an id
    plain_or_raise(NotAllowed, reason=reason)
    if not reason.strip():
        raise NotAllowed("a decision needs a written reason")
    row = kind.get(conn, request_id)
    if row.status != "open":
        raise AlreadyDecided(f"{kind.noun} {request_id} is already {row.status}")
    return row


def close_request(
    conn: Connection,
    kind: RequestKind,
    request: RecordRequest,
    *,
    status: str,
    reason: str,
    actor: str,
    today: date,
    details: Mapping[str, object],
    counted: Counted | None,
) -> Row[Any]:
    """Record the decision on an open request (logged), notice it to the subject, and return
    the request as it now is. The notice names the request, the record, the decision and its
    reason, then ``details``, then what :class:`Counted` tells when given."""
    request_id = str(getattr(request, kind.id_name))
    closes = kind.id_column == request_id
    conn.execute(
        update(kind.table)
        .where(closes, kind.table.c.status == "open")
        .values(
            status=status,
            decided_at=utc_now_text(),
            decided_on=today,
            decided_by=actor,
            decision_reason=reason,
        )
    )
    log_rows(conn, kind.table, closes)
    body: dict[str, object] = {
        kind.id_name: request_id,
        "record": f"{request.source}/{request.record_id}",
        "decision": status,
        "reason": reason,
        **details,
    }
    if counted is not None:
        body["counted_under"] = counted.before
        body["standing_now"] = counted.active.standings(
            conn, request.subject_id, today, [e["scheme"] for e in counted.before]
        )
    issue_notice(conn, request.subject_id, f"{kind.notice}-{status}", body)
    return kind.get(conn, request_id)
