"""The furnisher's part in a dispute (FCRA §1681i(a)(2), §1681s-2(b); the Credit Repair
Measures' verification by the source): when a subject objects to a record, the source that
furnished it is told through the outbox, answers through the API with its evidence, and is told
again if the subject adds information.

- The notice is queued in the transaction that files the objection (and the information), so a
  source is told of every dispute and of no dispute that was not filed.
- The source answers once, while the objection is open: ``accurate`` (with what shows it; the
  operator still decides, and sees the answer) or ``inaccurate`` (the record is revoked at once
  and the objection upheld, decided by the source). Once more after the subject added
  information: that is what telling it of the information is for.
- Information the subject adds before the deadline extends it, once, by
  ``dispute_extension_days`` (15 by default; FCRA §1681i(a)(1)(B)).
- An objection still open at its deadline lapses as any other: its record stops counting.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

from sqlalchemy import Connection, insert, update

from xinyong.decisions.notices import issue_notice
from xinyong.domain.refusals import AlreadyDecided, NotAllowed, NotFound, Word
from xinyong.domain.sources import source_problem
from xinyong.domain.text import plain_or_raise
from xinyong.due_process.active_schemes import ActiveSchemes
from xinyong.due_process.objections import Objection, decide_objection, get_objection
from xinyong.due_process.outbox import queue_message
from xinyong.i18n import N_
from xinyong.ledger.append import utc_now_text
from xinyong.ledger.operations import log_rows
from xinyong.ledger.schema import objections, sources
from xinyong.ledger.webhook_secrets import new_webhook_secret

__all__ = [
    "Verdict",
    "add_information",
    "answer_dispute",
    "notify_furnisher",
    "register_source_webhook",
]

Verdict = Literal["accurate", "inaccurate"]


def notify_furnisher(conn: Connection, objection: Objection, kind: str = "dispute") -> str:
    """Queue the notice of a dispute (or of information added to it) to the record's source;
    return the message id."""
    return queue_message(
        conn,
        "source",
        objection.source,
        objection.objection_id,
        {
            "type": kind,
            "objection_id": objection.objection_id,
            "source": objection.source,
            "record_id": objection.record_id,
            "subject": objection.subject_id,
            "reason": objection.reason,
            "evidence": objection.evidence,
            "added_information": objection.added_information,
            "deadline": objection.deadline.isoformat(),
            "answer": f"/v1/disputes/{objection.objection_id}/answer",
        },
    )


def register_source_webhook(conn: Connection, source: str, webhook_url: str | None) -> str:
    """Set where ``source`` is told of disputes, with a new signing secret; return the secret
    (messages still queued are signed with it when they are sent). Call inside a write lock."""
    problem = source_problem(source)
    if problem is not None:
        raise NotAllowed(problem)
    plain_or_raise(NotAllowed, webhook_url=webhook_url or "")
    secret = new_webhook_secret()
    updated = conn.execute(
        update(sources)
        .where(sources.c.name == source)
        .values(webhook_url=webhook_url, webhook_secret=secret)
    )
    if not updated.rowcount:
        conn.execute(
            insert(sources).values(
                name=source,
                webhook_url=webhook_url,
                webhook_secret=secret,
                created_at=utc_now_text(),
            )
        )
    log_rows(conn, sources, sources.c.name == source)
    return secret


def _of_source(conn: Connection, objection_id: str, source: str) -> Objection:
    """The objection to one of ``source``'s records (NotFound for any other: a source learns
    nothing of disputes about other sources' records)."""
    plain_or_raise(NotFound, objection_id=objection_id)
    try:
        objection = get_objection(conn, objection_id)
    except NotFound:
        objection = None
    if objection is None or objection.source != source:
        raise NotFound(f"no dispute {objection_id} of a record of {source}")
    return objection


def answer_dispute(
    conn: Connection,
    source: str,
    objection_id: str,
    *,
    verdict: Verdict,
    statement: str,
    evidence: str | None,
    today: date,
    active: ActiveSchemes,
) -> Objection:
    """Record the source's answer to a dispute of its record. Call inside a write lock.

    NotFound for a dispute of another source's record, AlreadyDecided once the objection is
    decided or answered, NotAllowed without a statement.
    """
    plain_or_raise(NotAllowed, statement=statement, evidence=evidence or "")
    if not statement.strip():
        raise NotAllowed("an answer needs a statement: what the source checked and found")
    objection = _of_source(conn, objection_id, source)
    if objection.status != "open":
        raise AlreadyDecided(f"the objection is already {objection.status}")
    if objection.answered_at is not None and (
        objection.extended_at is None or objection.answered_at >= objection.extended_at
    ):
        raise AlreadyDecided(
            f"the source answered already, at {objection.answered_at}; it may answer again "
            "only after the subject adds information"
        )
    conn.execute(
        update(objections)
        .where(objections.c.objection_id == objection_id)
        .values(
            furnisher_verdict=verdict,
            furnisher_statement=statement.strip(),
            furnisher_evidence=evidence,
            answered_at=utc_now_text(),
        )
    )
    log_rows(conn, objections, objections.c.objection_id == objection_id)
    if verdict == "inaccurate":
        return decide_objection(
            conn,
            objection_id,
            uphold=True,
            reason=f"the source found the record inaccurate: {statement.strip()}",
            operator=f"source:{source}",
            today=today,
            active=active,
        )
    issue_notice(
        conn,
        objection.subject_id,
        "dispute-answered",
        {
            "objection_id": objection_id,
            "record": objection.key,
            "verdict": verdict,
            "statement": statement.strip(),
            "evidence": evidence,
            "deadline": objection.deadline.isoformat(),
        },
    )
    return get_objection(conn, objection_id)


def add_information(
    conn: Connection,
    subject_id: str,
    objection_id: str,
    information: str,
    today: date,
    extension_days: int,
) -> Objection:
    """Add information to one's own open objection before its deadline: the deadline moves
    ``extension_days`` later (once) and the source is told. NotAllowed for another's objection,
    a decided one, after the deadline, or a second time."""
    plain_or_raise(NotAllowed, objection_id=objection_id, information=information)
    if not information.strip():
        raise NotAllowed(N_("add the information: it is sent to the source"))
    try:
        objection = get_objection(conn, objection_id)
    except NotFound:
        objection = None
    if objection is None or objection.subject_id != subject_id:
        raise NotAllowed(N_("no objection %(objection)s of yours"), objection=objection_id)
    if objection.status != "open":
        raise NotAllowed(N_("the objection is already %(status)s"), status=Word(objection.status))
    if today > objection.deadline:
        raise NotAllowed(
            N_("the objection's deadline %(deadline)s has passed"), deadline=objection.deadline
        )
    if objection.extended_at is not None:
        raise NotAllowed(N_("information was added already: the deadline extends once"))
    added = conn.execute(
        update(objections)
        .where(
            objections.c.objection_id == objection_id,
            objections.c.status == "open",  # not decided meanwhile (PostgreSQL re-reads the
            objections.c.extended_at.is_(None),  # row after a concurrent update commits)
        )
        .values(
            added_information=information.strip(),
            extended_at=utc_now_text(),
            deadline=objection.deadline + timedelta(days=extension_days),
        )
    )
    if not added.rowcount:
        raise NotAllowed(N_("the objection was decided or extended meanwhile"))
    log_rows(conn, objections, objections.c.objection_id == objection_id)
    extended = get_objection(conn, objection_id)
    notify_furnisher(conn, extended, "dispute-information")
    return extended
