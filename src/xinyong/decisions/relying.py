"""Registering a relying party: the measures it may check, bound to its stated purpose.

One flow for the CLI (``xinyong relying add``) and the API (``POST /v1/relying-parties``). A
measure that no active scheme defines is accepted, since a party may be registered before the
scheme it needs is activated, but it is named in the answer: until then every check of it is a
404, and a typo would otherwise go unnoticed until the first ticket sale.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import orjson
from sqlalchemy import Connection, insert, select, update

from xinyong.ledger.append import utc_now_text
from xinyong.ledger.operations import log_rows
from xinyong.ledger.schema import relying_parties
from xinyong.ledger.webhook_secrets import new_webhook_secret
from xinyong.scoring.store import active_measures

__all__ = [
    "AlreadyRegistered",
    "Registration",
    "register_relying_party",
    "rotate_webhook_secret",
]


class AlreadyRegistered(ValueError):
    """A relying party of that name exists."""


@dataclass(frozen=True, slots=True)
class Registration:
    """A registered party, and the measures of its registration that no active scheme defines."""

    name: str
    measures: tuple[str, ...]
    purpose: str
    webhook_url: str | None
    undefined: tuple[str, ...]
    webhook_secret: str
    """Signs every message to its webhook (Standard Webhooks); shown to the operator to hand
    to the party."""

    def warnings(self) -> list[str]:
        """What the operator should know about the registration, in words."""
        return [
            f"no active scheme defines measure {measure!r}: checks of it answer 404 until one does"
            for measure in self.undefined
        ]


def register_relying_party(
    conn: Connection,
    name: str,
    measures: Iterable[str],
    purpose: str,
    webhook_url: str | None = None,
) -> Registration:
    """Register ``name`` for ``measures``; :class:`AlreadyRegistered` if the name is taken."""
    name, purpose = name.strip(), purpose.strip()
    if not name:
        raise ValueError("a relying party needs a name")
    if not purpose:
        raise ValueError("a relying party needs a purpose")
    wanted = tuple(sorted({m.strip() for m in measures} - {""}))
    if not wanted:
        raise ValueError("a relying party needs at least one measure")
    taken = conn.execute(
        select(relying_parties.c.name).where(relying_parties.c.name == name)
    ).first()
    if taken is not None:
        raise AlreadyRegistered(f"a relying party named {name!r} exists")
    conn.execute(
        insert(relying_parties).values(
            name=name,
            measures=orjson.dumps(list(wanted)).decode(),
            purpose=purpose,
            webhook_url=webhook_url,
            created_at=utc_now_text(),
            webhook_secret=(secret := new_webhook_secret()),
        )
    )
    log_rows(conn, relying_parties, relying_parties.c.name == name)
    defined = set().union(*active_measures(conn).values())
    undefined = tuple(m for m in wanted if m not in defined)
    return Registration(name, wanted, purpose, webhook_url, undefined, secret)


def rotate_webhook_secret(conn: Connection, name: str) -> str:
    """Give a relying party a new webhook secret and return it (LookupError for an unknown
    party); messages sent from now on are signed with it."""
    secret = new_webhook_secret()
    done = conn.execute(
        update(relying_parties).where(relying_parties.c.name == name).values(webhook_secret=secret)
    )
    if not done.rowcount:
        raise LookupError(f"no relying party named {name!r}")
    log_rows(conn, relying_parties, relying_parties.c.name == name)
    return secret
