"""API keys: created once, shown once, stored as a hash, revocable.

A key reads ``xy_<key_id>_<secret>``: the id finds the row, the 256-bit secret is compared by
its SHA-256 in constant time. Secrets are random, so a fast hash is enough (no password-style
stretching needed) and the database never holds a usable key. Keys are never logged.

Roles:

- ``operator``: schemes, catalog, keys, review of objections and repairs;
- ``source``: submits records under its own source name (``name``);
- ``relying``: a relying party (``name``), checks only the measures it is registered for;
- ``subject``: bound to one subject id (``name``): that subject's own file.
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
from xinyong.due_process.deciders import Decider
from xinyong.ledger.append import utc_now_text
from xinyong.ledger.operations import log_rows
from xinyong.ledger.schema import api_keys

__all__ = [
    "MAX_OPERATOR_NAME",
    "ApiKey",
    "Principal",
    "Role",
    "authenticate",
    "create_key",
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


def create_key(conn: Connection, role: Role, name: str = "", label: str = "") -> ApiKey:
    """Create a key for ``role`` bound to ``name`` (source, relying party or subject; a
    subject's id in its canonical form). NotAllowed when the name will not do."""
    if role is Role.PUBLIC:
        raise NotAllowed("the public needs no key")
    if role is not Role.OPERATOR and not name:
        raise NotAllowed(f"a {role.value} key must be bound to a name")
    if role is Role.OPERATOR:  # the person: decisions record it, appeals compare it
        name = " ".join(name.split())
        if len(name) > MAX_OPERATOR_NAME:
            raise NotAllowed(f"an operator's name has at most {MAX_OPERATOR_NAME} characters")
    if role is Role.SOURCE and (problem := source_problem(name)) is not None:
        raise NotAllowed(problem)
    if role is Role.SUBJECT:  # the name every check and record of the subject uses
        try:
            name = canonical_subject_id(name)
        except IdentifierRefused as exc:
            raise NotAllowed(f"not a subject id: {exc.reason}") from exc
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


def revoke_key(conn: Connection, key_id: str) -> bool:
    """Revoke a key; False when there is no such active key."""
    result = conn.execute(
        update(api_keys)
        .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=utc_now_text())
    )
    log_rows(conn, api_keys, api_keys.c.key_id == key_id)
    return bool(result.rowcount)


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
