"""API keys: created once, shown once, stored as a hash, revocable.

A key reads ``xy_<key_id>_<secret>``: the id finds the row, the 256-bit secret is compared by
its SHA-256 in constant time. Secrets are random, so a fast hash is enough (no password-style
stretching needed) and the database never holds a usable key. Keys are never logged.

Roles:

- ``operator``: schemes, catalog, keys, review of objections and repairs;
- ``source``: submits records under its own source name (``name``);
- ``relying``: a relying party (``name``), checks only the measures it is registered for;
- ``subject``: bound to one subject id (``name``): that subject's own file.

One flow for the CLI (``xinyong keys``), the API (``/v1/keys``) and the console
(``/console/keys``). A refusal names the field at fault in a template marked with ``N_``, so that
the console shows it in the page's language.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Connection, insert, select, update

from xinyong.domain.identifiers import IdentifierRefused, canonical_subject_id
from xinyong.domain.refusals import NotAllowed
from xinyong.domain.sources import source_problem
from xinyong.domain.text import text_problem
from xinyong.due_process.deciders import Decider
from xinyong.i18n import N_
from xinyong.ledger.append import utc_now_text
from xinyong.ledger.operations import log_rows
from xinyong.ledger.schema import api_keys

__all__ = [
    "ISSUED_REMOTELY",
    "MAX_LABEL",
    "MAX_NAME",
    "MAX_OPERATOR_NAME",
    "ApiKey",
    "KeyRow",
    "Principal",
    "Role",
    "authenticate",
    "create_key",
    "issued_role",
    "list_keys",
    "revoke_key",
]


class Role(StrEnum):
    """Who a key speaks for."""

    OPERATOR = "operator"
    SOURCE = "source"
    RELYING = "relying"
    SUBJECT = "subject"
    PUBLIC = "public"


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of a request."""

    role: Role
    name: str = ""
    key_id: str = ""

    @property
    def actor(self) -> str:
        """Who acted, as decisions and ledger events record it: the role and the key's name,
        or the key's id when it has no name (``operator:Zhang Wei``). Two keys of one name
        are one person: an appeal cannot go to the same operator's other key."""
        return f"{self.role.value}:{self.name or self.key_id}"

    @property
    def decider(self) -> Decider:
        """This operator as an appeal's decider."""
        return Decider(self.name, self.key_id)


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A newly created key; ``token`` is shown once and never stored."""

    key_id: str
    token: str
    role: Role
    name: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


MAX_OPERATOR_NAME = 100
"""``operator:NAME`` is what decisions and ledger events record, in columns of 128."""
MAX_NAME = 128
"""The longest name a key is bound to (the column's size)."""
MAX_LABEL = 200
"""The longest label, a note for people."""

ISSUED_REMOTELY = (Role.SOURCE, Role.RELYING, Role.SUBJECT)
"""The roles an operator may give a key through the API or the console. Operator keys are made
on the server (``xinyong keys create --role operator --name NAME``): one operator cannot mint
another's name, which appeals rely on."""

_UNBOUND = {
    Role.SOURCE: N_("a source key must be bound to a name: the source's name"),
    Role.RELYING: N_("a relying key must be bound to a name: the relying party's name"),
    Role.SUBJECT: N_("a subject key must be bound to a name: the subject's id"),
}


def issued_role(value: str) -> Role:
    """The role a key asked for remotely is to have; NotAllowed for any other value (an
    operator's key among them: see :data:`ISSUED_REMOTELY`)."""
    if value == Role.OPERATOR.value:
        raise NotAllowed(
            N_("role: operator keys are made on the server (xinyong keys create --role operator)")
        )
    if value not in {r.value for r in ISSUED_REMOTELY}:
        raise NotAllowed(N_("role: choose source, relying or subject, not %(role)s"), role=value)
    return Role(value)


def _bound_name(role: Role, name: str) -> str:
    """The name a key of ``role`` is bound to, in the form checks and records use; NotAllowed
    naming what is wrong with it."""
    if problem := text_problem(name):
        raise NotAllowed(N_("name: %(problem)s"), problem=problem)
    if role is Role.OPERATOR:  # the person: decisions record it, appeals compare it
        name = " ".join(name.split())
        if len(name) > MAX_OPERATOR_NAME:
            raise NotAllowed(
                N_("an operator's name has at most %(most)s characters"), most=MAX_OPERATOR_NAME
            )
        return name
    name = name.strip() if role is Role.RELYING else name  # as its registration has it
    if not name.strip():
        raise NotAllowed(_UNBOUND[role])
    if role is Role.SOURCE and source_problem(name) is not None:
        raise NotAllowed(
            N_("bad source name %(name)s: letters, digits and _.:- only, at most 64"),
            name=repr(name),
        )
    if role is Role.SUBJECT:  # the name every check and record of the subject uses
        try:
            return canonical_subject_id(name)
        except IdentifierRefused as exc:
            raise NotAllowed(N_("not a subject id: %(reason)s"), reason=exc.reason) from exc
    if len(name) > MAX_NAME:
        raise NotAllowed(N_("name: at most %(most)s characters"), most=MAX_NAME)
    return name


def _checked_label(label: str) -> str:
    if problem := text_problem(label):
        raise NotAllowed(N_("label: %(problem)s"), problem=problem)
    if len(label) > MAX_LABEL:
        raise NotAllowed(N_("label: at most %(most)s characters"), most=MAX_LABEL)
    return label


def create_key(conn: Connection, role: Role, name: str = "", label: str = "") -> ApiKey:
    """Create a key for ``role`` bound to ``name`` (source, relying party or subject; a
    subject's id in its canonical form). NotAllowed when the name or the label will not do."""
    if role is Role.PUBLIC:
        raise NotAllowed(N_("the public needs no key"))
    name, label = _bound_name(role, name), _checked_label(label)
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    conn.execute(
        insert(api_keys).values(
            key_id=key_id,
            secret_hash=_digest(secret),
            role=role.value,
            name=name,
            label=label,
            created_at=utc_now_text(),
            revoked_at=None,
        )
    )
    log_rows(conn, api_keys, api_keys.c.key_id == key_id)
    return ApiKey(key_id, f"xy_{key_id}_{secret}", role, name)


def revoke_key(
    conn: Connection, key_id: str, *, signed_in_with: str = "", remotely: bool = False
) -> bool:
    """Revoke a key (the operations log records it); False when there is no such active key.

    ``signed_in_with`` is the key of the session that asks: revoking it is refused
    (NotAllowed), since it would end that session at once and may be the last operator key
    the portal can reach; ``xinyong keys revoke`` on the server does it. ``remotely`` (the API
    and the console) refuses an operator's key too: operator keys are made on the server only
    (:data:`ISSUED_REMOTELY`), and one operator must not be able to lock the others out (an
    appeal needs another operator)."""
    if signed_in_with and key_id == signed_in_with:
        raise NotAllowed(
            N_(
                "this is the key you are signed in with: sign in with another operator key to "
                "revoke it, or run xinyong keys revoke on the server"
            )
        )
    if remotely:
        role = conn.execute(
            select(api_keys.c.role).where(
                api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None)
            )
        ).scalar()
        if role == Role.OPERATOR.value:
            raise NotAllowed(
                N_("an operator's key is revoked on the server: run xinyong keys revoke there")
            )
    result = conn.execute(
        update(api_keys)
        .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=utc_now_text())
    )
    log_rows(conn, api_keys, api_keys.c.key_id == key_id)
    return bool(result.rowcount)


@dataclass(frozen=True, slots=True)
class KeyRow:
    """A key as operators see it listed: never its secret nor the secret's hash. Times are UTC
    as stored (``2026-12-03T14:39:31.814729Z``)."""

    key_id: str
    role: str
    name: str
    label: str
    created_at: str
    revoked_at: str | None

    def json(self) -> dict[str, str | None]:
        """The row as the CLI's ``--json`` and the console's twin give it."""
        return {
            "key_id": self.key_id,
            "role": self.role,
            "name": self.name,
            "label": self.label,
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
        }


def list_keys(conn: Connection) -> list[KeyRow]:
    """Every key, oldest first."""
    rows = conn.execute(
        select(
            api_keys.c.key_id,
            api_keys.c.role,
            api_keys.c.name,
            api_keys.c.label,
            api_keys.c.created_at,
            api_keys.c.revoked_at,
        ).order_by(api_keys.c.created_at, api_keys.c.key_id)
    )
    return [
        KeyRow(
            str(r.key_id),
            str(r.role),
            str(r.name),
            str(r.label),
            str(r.created_at),
            None if r.revoked_at is None else str(r.revoked_at),
        )
        for r in rows
    ]


def authenticate(conn: Connection, token: str) -> Principal | None:
    """The principal of a token, or None for an unknown, malformed or revoked key."""
    prefix, _, rest = token.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != "xy" or not re.fullmatch(r"[0-9a-f]{16}", key_id) or not secret:
        return None  # key ids are 16 hex digits: nothing else is looked up
    row = conn.execute(
        select(
            api_keys.c.secret_hash, api_keys.c.role, api_keys.c.name, api_keys.c.revoked_at
        ).where(api_keys.c.key_id == key_id)
    ).first()
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(str(row.secret_hash), _digest(secret)):
        return None
    return Principal(Role(row.role), str(row.name), key_id)
