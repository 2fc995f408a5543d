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
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import Connection, Engine, func, or_, select

from xinyong.application.keys import Role, create_key, revoke_key
from xinyong.decisions.relying import AlreadyRegistered, register_relying_party
from xinyong.decisions.standing import SchemeRegistry
from xinyong.domain.catalog import Catalog
from xinyong.domain.identifiers import is_synthetic
from xinyong.due_process.refresh import refresh_all
from xinyong.ledger.database import WRITE_LOCK
from xinyong.ledger.schema import api_keys, listings, subjects
from xinyong.synth.peer import SEED_ACCOUNTS

__all__ = [
    "DEMO_LABEL",
    "DEMO_MEASURE",
    "DEMO_RELYING_PARTY",
    "DemoAccess",
    "NotADemoLedger",
    "publish_demo",
    "real_subject",
]

DEMO_LABEL = "xinyong demo"
"""The label of the keys the demo writes; a new run revokes the previous run's."""
DEMO_OPERATOR = "demo operator"
DEMO_RELYING_PARTY = "demo-airline"
DEMO_MEASURE = "no-premium-travel"
"""What the demo's relying party checks: the judgment defaulters' ban on premium travel."""
DEMO_SCHEME = "judgment-defaulters"


class NotADemoLedger(RuntimeError):
    """The ledger holds real identifiers: the demo publishes nothing in it."""

    def __init__(self) -> None:
        super().__init__(
            "this ledger holds subjects with real (not synthetic) identifiers: the demo adds "
            "synthetic people and publishes lists at once, with no notice period; run it on a "
            "ledger of its own (--db demo.db)"
        )


@dataclass(frozen=True, slots=True)
class DemoAccess:
    """What the demo published and where its keys are."""

    keys_file: Path
    published: int
    subject: str | None
    """A subject on the judgment defaulters' list (else on any list), signed in with its key."""


def real_subject(conn: Connection) -> str | None:
    """A subject of the ledger that ``xinyong synth`` does not make, if there is one: the demo
    refuses such a ledger (it would publish real people's entries with no notice period).

    Synth's subjects have synthetic identifiers (a resident ID starting with ``00``, a credit
    code whose division code does; no real one does) or are the rating town's founding accounts
    (:data:`~xinyong.synth.peer.SEED_ACCOUNTS`), so one query finds any other subject.
    """
    sid = subjects.c.subject_id
    maybe_synthetic = or_(sid.like("00%"), func.substr(sid, 3, 2) == "00", sid.in_(SEED_ACCOUNTS))
    row = conn.execute(select(sid).where(~maybe_synthetic).limit(1)).first()
    if row is not None:
        return str(row[0])
    return next(
        (
            str(r[0])
            for r in conn.execute(select(sid))
            if not (is_synthetic(str(r[0])) or str(r[0]) in SEED_ACCOUNTS)
        ),
        None,
    )


def publish_demo(engine: Engine, catalog: Catalog, out_dir: Path, today: date) -> DemoAccess:
    """Refresh every active scheme's standings and lists as of ``today`` with no notice period,
    register the demo's relying party, and write fresh demo keys to ``out_dir/keys.toml``.

    :class:`NotADemoLedger` when the ledger holds a subject with a real identifier.
    """
    with engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
        if real_subject(conn) is not None:
            raise NotADemoLedger
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
        for (key_id,) in conn.execute(  # the previous run's keys, and no one else's
            select(api_keys.c.key_id).where(
                api_keys.c.label == DEMO_LABEL,
                api_keys.c.revoked_at.is_(None),
                or_(
                    api_keys.c.name.in_([DEMO_OPERATOR, DEMO_RELYING_PARTY]),
                    api_keys.c.role == Role.SUBJECT.value,
                ),
            )
        ).all():
            revoke_key(conn, str(key_id))
        tokens = {
            "operator": create_key(conn, Role.OPERATOR, DEMO_OPERATOR, DEMO_LABEL).token,
            "relying": create_key(conn, Role.RELYING, DEMO_RELYING_PARTY, DEMO_LABEL).token,
        }
        if subject is not None:
            tokens["subject"] = create_key(conn, Role.SUBJECT, subject, DEMO_LABEL).token
        keys_file = out_dir / "keys.toml"
        _write_private(keys_file, _keys_text(tokens, subject))  # before the keys are committed
    return DemoAccess(keys_file, published, subject)


def _listed_subject(conn: Connection) -> str | None:
    """The first subject (by id) on the judgment defaulters' list, else on any list."""
    for condition in (listings.c.scheme_id == DEMO_SCHEME, listings.c.scheme_id.is_not(None)):
        row = conn.execute(
            select(listings.c.subject_id)
            .where(listings.c.delisted_on.is_(None), condition)
            .order_by(listings.c.subject_id)
            .limit(1)
        ).first()
        if row is not None and is_synthetic(str(row[0])):
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
    """Write ``text`` to ``path`` readable by its owner only (it holds secrets): a new file made
    0600 from the start and moved into place, so the secrets are never readable by others, not
    even for a moment through an earlier file's mode, and a link at ``path`` is replaced, not
    followed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".keys-", suffix=".toml")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
