"""The end of ``xinyong demo``: a portal worth opening.

The demo's pilots are active once it has scored them; this publishes their lists as of today and
writes the keys a newcomer needs to try the service: an operator's, a listed subject's (to sign
in to the portal as that person) and a relying party's (to run a check with curl).

Demo listings are public at once: every demo subject has a synthetic identifier (the reserved
``00`` region, :func:`xinyong.domain.identifiers.is_synthetic`) that cannot belong to a real
person, and the pages label them as demo data. Real data keeps the notice period
(``standings refresh --grace-days``, 30 by default).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import Connection, Engine, select

from xinyong.application.keys import Role, create_key, revoke_key
from xinyong.decisions.relying import AlreadyRegistered, register_relying_party
from xinyong.decisions.standing import SchemeRegistry
from xinyong.domain.catalog import Catalog
from xinyong.due_process.refresh import refresh_all
from xinyong.ledger.database import WRITE_LOCK
from xinyong.ledger.schema import api_keys, listings

__all__ = ["DEMO_LABEL", "DEMO_MEASURE", "DEMO_RELYING_PARTY", "DemoAccess", "publish_demo"]

DEMO_LABEL = "xinyong demo"
"""The label of the keys the demo writes; a new run revokes the previous run's."""
DEMO_RELYING_PARTY = "demo-airline"
DEMO_MEASURE = "no-premium-travel"
"""What the demo's relying party checks: the judgment defaulters' ban on premium travel."""
DEMO_SCHEME = "judgment-defaulters"


@dataclass(frozen=True, slots=True)
class DemoAccess:
    """What the demo published and where its keys are."""

    keys_file: Path
    published: int
    subject: str | None
    """A subject on the judgment defaulters' list (else on any list), signed in with its key."""
    relying_token: str
    """The demo relying party's key (also in the keys file), for the curl the demo prints."""


def publish_demo(engine: Engine, catalog: Catalog, out_dir: Path, today: date) -> DemoAccess:
    """Refresh every active scheme's standings and lists as of ``today`` with no notice period,
    register the demo's relying party, and write fresh demo keys to ``out_dir/keys.toml``."""
    with engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
        refresh_all(conn, SchemeRegistry(catalog=catalog), today, catalog, grace_days=0)
        published = len(
            conn.execute(select(listings.c.entry_id).where(listings.c.delisted_on.is_(None))).all()
        )
        subject = _listed_subject(conn)
        with contextlib.suppress(AlreadyRegistered):
            register_relying_party(
                conn,
                DEMO_RELYING_PARTY,
                [DEMO_MEASURE],
                "demo: may this passenger buy a premium seat (judgment defaulters' restriction)",
            )
        for (key_id,) in conn.execute(
            select(api_keys.c.key_id).where(
                api_keys.c.label == DEMO_LABEL, api_keys.c.revoked_at.is_(None)
            )
        ).all():
            revoke_key(conn, str(key_id))
        tokens = {
            "operator": create_key(conn, Role.OPERATOR, "demo operator", DEMO_LABEL).token,
            "relying": create_key(conn, Role.RELYING, DEMO_RELYING_PARTY, DEMO_LABEL).token,
        }
        if subject is not None:
            tokens["subject"] = create_key(conn, Role.SUBJECT, subject, DEMO_LABEL).token
    keys_file = out_dir / "keys.toml"
    _write_private(keys_file, _keys_text(tokens, subject))
    return DemoAccess(keys_file, published, subject, tokens["relying"])


def _listed_subject(conn: Connection) -> str | None:
    """The first subject (by id) on the judgment defaulters' list, else on any list."""
    for condition in (listings.c.scheme_id == DEMO_SCHEME, listings.c.scheme_id.is_not(None)):
        row = conn.execute(
            select(listings.c.subject_id)
            .where(listings.c.delisted_on.is_(None), condition)
            .order_by(listings.c.subject_id)
            .limit(1)
        ).first()
        if row is not None:
            return str(row[0])
    return None


def _keys_text(tokens: dict[str, str], subject: str | None) -> str:
    lines = [
        "# Keys written by `xinyong demo` for its ledger (demo data only). Keep this file",
        "# private: a key is shown once and stored in the ledger only as a hash. The next",
        "# `xinyong demo` revokes these and writes new ones.",
        "",
        "[operator]",
        "# sign in at http://127.0.0.1:8000/login to run the console",
        f'token = "{tokens["operator"]}"',
        "",
        "[relying]",
        f'name = "{DEMO_RELYING_PARTY}"',
        f'measure = "{DEMO_MEASURE}"',
        f'token = "{tokens["relying"]}"',
    ]
    if subject is not None:
        lines += [
            "",
            "[subject]",
            "# a listed person: sign in at http://127.0.0.1:8000/login to see their file",
            f'id = "{subject}"',
            f'token = "{tokens["subject"]}"',
        ]
    return "\n".join(lines) + "\n"


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only (it holds secrets)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
    path.chmod(0o600)  # an existing file keeps its mode through O_CREAT
