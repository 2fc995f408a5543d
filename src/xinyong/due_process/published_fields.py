"""What a public list entry publishes besides the masked name and id: a list's ``publish``.

The SPC list of judgment defaulters publishes, for a person, the name, sex, age and ID number,
and for an organisation the name, USCC and legal representative (Provisions of 2013, amended
2017, Art. 6; DOMAIN.md section 1); its public query also shows the obligation, the
circumstances of the failure to perform, and the court. A list says which of these its entries
show (``publish``), so that no other list publishes a person's sex or age by default.

- ``sex`` and ``age``: read from the resident ID (GB 11643-1999: the order code's last digit is
  odd for men, even for women; the age in full years on the day the page is shown); nothing for
  a person without one.
- ``obligation``, ``circumstances``, ``court``: from each record behind the entry, its
  ``attrs.obligation`` (else its ``amount`` in yuan), the ground of Art. 1 it gives
  (``attrs.ground``, and ``aggravated``), and its source.
- ``legal_representative``: the person an effective ``relation.legal_representative`` record
  names on that day, masked like any person on a public page.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import Connection

from xinyong.domain.catalog import Catalog
from xinyong.domain.identifiers import looks_like_resident_id
from xinyong.domain.records import InputRecord
from xinyong.domain.relations import relations_in
from xinyong.due_process.masking import MaskingPolicy
from xinyong.ledger.effective import subject_version
from xinyong.schemes.model import ListDef
from xinyong.scoring.ledger_source import subject_records

__all__ = ["ART1_GROUNDS", "published_fields"]

ART1_GROUNDS = {
    1: "able to perform but refuses to",
    2: "obstructs execution with false evidence, violence or threats",
    3: "evades execution by sham litigation or arbitration, or by hiding or transferring assets",
    4: "violates the asset-reporting system",
    5: "violates a consumption-restriction order",
    6: "refuses without proper reason to perform a settlement agreement",
}
"""The grounds of listing of Art. 1 of the SPC Provisions, in the words the entry shows."""


def _sex(subject_id: str) -> str | None:
    if not looks_like_resident_id(subject_id):
        return None
    return "male" if int(subject_id[16]) % 2 else "female"


def _age(subject_id: str, today: date) -> str | None:
    if not looks_like_resident_id(subject_id):
        return None
    born = int(subject_id[6:14])
    return str((today.year * 10_000 + today.month * 100 + today.day - born) // 10_000)


def _obligation(record: InputRecord) -> str | None:
    text = record.attrs.get("obligation")
    if isinstance(text, str) and text.strip():
        return text.strip()
    amount = record.attrs.get("amount")
    if isinstance(amount, int | float) and not isinstance(amount, bool):
        return f"pay {amount:,.2f} yuan".replace(".00 ", " ")
    return None


def _circumstances(record: InputRecord) -> str | None:
    ground = record.attrs.get("ground")
    if isinstance(ground, bool) or not isinstance(ground, int | float) or ground != int(ground):
        return None
    words = ART1_GROUNDS.get(int(ground))
    if words is None:
        return None
    if record.attrs.get("aggravated") is True:
        return f"{words} (aggravated)"
    return words


def _legal_representative(
    conn: Connection,
    organization: str,
    today: date,
    size: int,
    policy: MaskingPolicy,
    catalog: Catalog,
) -> str | None:
    """The organisation's legal representative today, as the ledger stood at ``size``, as the
    public may see them."""
    records = subject_records(conn, organization, today, size, catalog)
    held = [r.person for r in relations_in(records, today) if r.role == "legal_representative"]
    if not held:
        return None
    shown = []
    for person in sorted(set(held)):
        who = subject_version(conn, person)
        name = policy.name(who.display_name if who is not None else None, "person")
        masked = policy.subject_id(person, "person")
        shown.append(f"{name} ({masked})" if name else masked)
    return "; ".join(shown)


def published_fields(
    conn: Connection,
    lst: ListDef,
    subject_id: str,
    kind: str,
    behind: Sequence[InputRecord],
    today: date,
    size: int,
    policy: MaskingPolicy,
    catalog: Catalog,
) -> list[dict[str, str]]:
    """The fields the list publishes for one entry, as ``{"field", "value"}`` in the list's
    order; a field with nothing to show is left out. ``behind``: the records that keep the
    subject on the list; ``size``: the ledger's size the entry is shown at."""
    shown: list[dict[str, str]] = []

    def joined(values: list[str | None]) -> str | None:
        kept = list(dict.fromkeys(v for v in values if v))
        return "; ".join(kept) if kept else None

    for name in lst.publish:
        value: str | None = None
        if name == "sex" and kind == "person":
            value = _sex(subject_id)
        elif name == "age" and kind == "person":
            value = _age(subject_id, today)
        elif name == "obligation":
            value = joined([_obligation(r) for r in behind])
        elif name == "circumstances":
            value = joined([_circumstances(r) for r in behind])
        elif name == "court":
            value = joined([r.source for r in behind])
        elif name == "legal_representative" and kind == "organization":
            value = _legal_representative(conn, subject_id, today, size, policy, catalog)
        if value is not None:
            shown.append({"field": name, "value": value})
    return shown
