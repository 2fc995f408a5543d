"""Relying parties as operators manage them: listed, registered, withdrawn.

One flow for the CLI (``xinyong relying``) and the console (``/console/relying-parties``). The
registration itself is :func:`xinyong.decisions.relying.register_relying_party`'s; this module
checks what a person typed first, each refusal naming its field in a template marked with
``N_`` (the console shows it in the page's language), and refuses a webhook URL that would leak
what it carries: corrections name subjects, so they go over HTTPS (plain HTTP only to this
machine, for a party's test receiver), and a URL holding a password would show it in every list.

A party is withdrawn, never deleted: its past checks name it (their receipts show its purpose)
and corrections of them must still reach its webhook. Withdrawing revokes every key bound to it,
so that it can check nothing more until an operator gives it a new key.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import orjson
from sqlalchemy import Connection, Engine, func, select, update

from xinyong.application.keys import MAX_NAME, Role
from xinyong.decisions.relying import AlreadyRegistered, Registration, register_relying_party
from xinyong.domain.refusals import NotAllowed, NotFound, Taken
from xinyong.domain.text import text_problem
from xinyong.i18n import N_
from xinyong.ledger.append import utc_now_text
from xinyong.ledger.database import WRITE, hold_lock
from xinyong.ledger.operations import log_rows
from xinyong.ledger.schema import api_keys, inquiries, relying_parties
from xinyong.scoring.store import active_measures

__all__ = [
    "MAX_MEASURES",
    "MAX_PURPOSE",
    "MAX_URL",
    "RelyingParty",
    "defined_measures",
    "list_relying_parties",
    "register",
    "webhook_host",
    "withdraw",
]

MAX_PURPOSE = 2000
MAX_URL = 2000
MAX_MEASURES = 100
"""A party checks the few measures its purpose needs; a longer list is a mistake."""
_LOOPBACK_NAMES = frozenset({"localhost"})


@dataclass(frozen=True, slots=True)
class RelyingParty:
    """A registered party as operators see it listed: where its webhook is, never the webhook's
    secret nor the rest of its URL (a path may hold a token)."""

    name: str
    measures: tuple[str, ...]
    purpose: str
    webhook_host: str | None
    created_at: str
    active_keys: int
    checks: int
    last_check: str | None

    def json(self) -> dict[str, object]:
        """The party as the CLI's ``--json`` and the console's twin give it."""
        return {
            "name": self.name,
            "measures": list(self.measures),
            "purpose": self.purpose,
            "webhook": self.webhook_host is not None,
            "webhook_host": self.webhook_host,
            "created_at": self.created_at,
            "active_keys": self.active_keys,
            "checks": self.checks,
            "last_check": self.last_check,
        }


def webhook_host(url: str | None) -> str | None:
    """The host of a webhook URL, which is what operators are shown of it ("" when it has none
    a browser would read; None: no webhook)."""
    if not url:
        return None
    try:
        return urlsplit(url).hostname or ""
    except ValueError:  # stored before URLs were checked
        return ""


def list_relying_parties(conn: Connection) -> list[RelyingParty]:
    """Every registered party by name, with its active keys and the checks it made."""
    volumes = {
        str(row.relying_party): (int(row.checks), str(row.last))
        for row in conn.execute(
            select(
                inquiries.c.relying_party,
                func.count().label("checks"),
                func.max(inquiries.c.made_at).label("last"),
            ).group_by(inquiries.c.relying_party)
        )
    }
    keys = {
        str(row.name): int(row.keys)
        for row in conn.execute(
            select(api_keys.c.name, func.count().label("keys"))
            .where(api_keys.c.role == Role.RELYING.value, api_keys.c.revoked_at.is_(None))
            .group_by(api_keys.c.name)
        )
    }
    return [
        RelyingParty(
            name=str(row.name),
            measures=tuple(orjson.loads(row.measures)),
            purpose=str(row.purpose),
            webhook_host=webhook_host(row.webhook_url),
            created_at=str(row.created_at),
            active_keys=keys.get(row.name, 0),
            checks=volumes.get(row.name, (0, None))[0],
            last_check=volumes.get(row.name, (0, None))[1],
        )
        for row in conn.execute(
            select(
                relying_parties.c.name,
                relying_parties.c.measures,
                relying_parties.c.purpose,
                relying_parties.c.webhook_url,
                relying_parties.c.created_at,
            ).order_by(relying_parties.c.name)
        )
    ]


def defined_measures(conn: Connection) -> dict[str, str]:
    """Each measure an active scheme defines, with that scheme's id: what a party may be
    registered for and checks answer."""
    return {
        measure: scheme_id
        for scheme_id, measures in sorted(active_measures(conn).items())
        for measure in sorted(measures)
    }


_FIELDS = {
    "name": (
        N_("name: required"),
        N_("name: %(problem)s"),
        N_("name: at most %(most)s characters"),
    ),
    "purpose": (
        N_("purpose: required"),
        N_("purpose: %(problem)s"),
        N_("purpose: at most %(most)s characters"),
    ),
}
"""What is said of a field that is empty, not plain text, or too long."""


def _plain(field: str, value: str, most: int) -> str:
    """``value`` stripped; NotAllowed naming ``field`` when it is empty, not plain text or
    longer than ``most``."""
    empty, not_plain, too_long = _FIELDS[field]
    value = value.strip()
    if not value:
        raise NotAllowed(empty)
    if problem := text_problem(value):
        raise NotAllowed(not_plain, problem=problem)
    if len(value) > most:
        raise NotAllowed(too_long, most=most)
    return value


def _measures(given: Iterable[str]) -> list[str]:
    wanted = sorted({m.strip() for m in given} - {""})
    if not wanted:
        raise NotAllowed(N_("measures: choose at least one"))
    if len(wanted) > MAX_MEASURES:
        raise NotAllowed(N_("measures: at most %(most)s"), most=MAX_MEASURES)
    for measure in wanted:
        if text_problem(measure) or len(measure) > MAX_NAME:
            raise NotAllowed(N_("measures: %(measure)s is not a measure id"), measure=measure)
    return wanted


def _loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _webhook(url: str | None) -> str | None:
    """The webhook URL to store (None: no webhook); NotAllowed saying what is wrong with it."""
    url = (url or "").strip()
    if not url:
        return None
    if len(url) > MAX_URL or text_problem(url) or any(c.isspace() for c in url):
        raise NotAllowed(
            N_("webhook URL: one address, without spaces, of at most %(most)s characters"),
            most=MAX_URL,
        )
    try:
        parts = urlsplit(url)
        host, _ = parts.hostname or "", parts.port  # a port that is not a number raises
    except ValueError as exc:
        raise NotAllowed(N_("webhook URL: not an address (%(problem)s)"), problem=str(exc)) from exc
    if parts.scheme not in ("https", "http") or not host:
        raise NotAllowed(N_("webhook URL: write it whole, as https://host/path"))
    if parts.scheme == "http" and not _loopback(host):
        raise NotAllowed(N_("webhook URL: use https (plain http only to this machine)"))
    if parts.username is not None or parts.password is not None:
        raise NotAllowed(
            N_("webhook URL: no user name or password in it (the webhook secret signs messages)")
        )
    if parts.fragment:
        raise NotAllowed(N_("webhook URL: no fragment (#) in it"))
    return url


def register(
    engine: Engine,
    name: str,
    measures: Iterable[str],
    purpose: str,
    webhook_url: str | None = None,
) -> Registration:
    """Register a relying party for ``measures`` after checking every field; NotAllowed naming
    the field at fault, or Taken for a name that is registered already. The registration names
    the measures no active scheme defines (its warnings) and holds the webhook secret, to be
    shown once."""
    name = _plain("name", name, MAX_NAME)
    purpose = _plain("purpose", purpose, MAX_PURPOSE)
    wanted, url = _measures(measures), _webhook(webhook_url)
    with engine.connect().execution_options(**WRITE) as conn, conn.begin():
        hold_lock(conn, "relying-parties")  # reads the names taken, then adds one
        try:
            return register_relying_party(conn, name, wanted, purpose, url)
        except AlreadyRegistered as exc:
            raise Taken(
                N_("name: a relying party named %(name)s is registered already"), name=name
            ) from exc


def _registered(conn: Connection, name: str) -> bool:
    found = conn.execute(select(relying_parties.c.name).where(relying_parties.c.name == name))
    return found.first() is not None


def withdraw(conn: Connection, name: str) -> list[str]:
    """Revoke every active key bound to the relying party ``name`` (each revocation logged) and
    return their ids; NotFound for an unknown party. Its registration stays (see above)."""
    if text_problem(name) is not None or not _registered(conn, name):  # no database holds a NUL
        raise NotFound(N_("no relying party named %(name)s"), name=name)
    bound = (api_keys.c.role == Role.RELYING.value) & (api_keys.c.name == name)
    revoked = [
        str(key_id)
        for key_id in conn.execute(
            select(api_keys.c.key_id).where(bound, api_keys.c.revoked_at.is_(None))
        ).scalars()
    ]
    if revoked:
        conn.execute(
            update(api_keys)
            .where(api_keys.c.key_id.in_(revoked), api_keys.c.revoked_at.is_(None))
            .values(revoked_at=utc_now_text())
        )
        log_rows(conn, api_keys, api_keys.c.key_id.in_(revoked))
    return revoked
