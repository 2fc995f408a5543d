"""Related parties: who stands behind an organisation, as conduct records about it.

The SPC's restrictions on judgment defaulters bind not only a listed organisation but also its
legal representative, principal persons in charge and actual controller (Provisions on
Restricting High Consumption, 2015, Art. 3; DOMAIN.md section 1). A relation is recorded like
any other fact, so that it has a source, can be objected to and corrected, and is replayed as the
ledger stood: a ``relation.<role>`` record about the **organisation**, dated from when the person
took the role, with

- ``attrs.person``: the person's subject id (put in canonical form at ingest, like every id);
- ``attrs.until`` (optional): the last day the person held the role, ``YYYY-MM-DD``.

A scheme's measure with ``extends_to = [role, ...]`` then also applies to a person who holds one
of those roles in an organisation the measure applies to (:mod:`xinyong.decisions.related`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Literal, get_args

import orjson

from xinyong.domain.records import InputRecord
from xinyong.domain.row_problem import RowProblem

__all__ = [
    "RELATION_CODES",
    "RELATION_PREFIX",
    "ROLES",
    "ROLE_WORDS",
    "Relation",
    "Role",
    "in_file",
    "named_person",
    "relation_row_problem",
    "relations_in",
    "role_of",
]

Role = Literal["legal_representative", "principal", "actual_controller"]
"""The roles the SPC's provisions name: legal representative, principal person in charge
(主要负责人) and actual controller (实际控制人)."""
ROLES: tuple[Role, ...] = get_args(Role)
RELATION_PREFIX = "relation."
RELATION_CODES = tuple(f"{RELATION_PREFIX}{role}" for role in ROLES)
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
ROLE_WORDS: dict[Role, str] = {
    "legal_representative": "legal representative",
    "principal": "principal person in charge",
    "actual_controller": "actual controller",
}
"""Each role as a sentence names it."""


def role_of(code: str) -> Role | None:
    """The role a relation code records, None for any other code."""
    if not code.startswith(RELATION_PREFIX):
        return None
    role = code[len(RELATION_PREFIX) :]
    return role if role in ROLES else None


@dataclass(frozen=True, slots=True)
class Relation:
    """A person's role in an organisation, from one relation record."""

    organization: str
    person: str
    role: Role
    since: date
    until: date | None
    record: str
    """The relation record's key (``source/record_id``), for the explanation and objections."""

    def holds_on(self, day: date) -> bool:
        """Whether the person held the role on ``day``."""
        return self.since <= day and (self.until is None or day <= self.until)

    @property
    def words(self) -> str:
        """The role as a sentence names it."""
        return ROLE_WORDS[self.role]


def relations_in(records: Iterable[InputRecord], on: date) -> list[Relation]:
    """The relations these (effective) records of organisations declare that hold on ``on``,
    in the records' order."""
    found = []
    for record in records:
        role = role_of(record.code)
        person = record.attrs.get("person")
        if role is None or not isinstance(person, str):
            continue
        relation = Relation(
            organization=record.subject_id,
            person=person,
            role=role,
            since=record.occurred_at,
            until=until_of(record.attrs),
            record=record.key,
        )
        if relation.holds_on(on):
            found.append(relation)
    return found


def in_file(subject_id: str, about: str, code: str, attrs: str) -> bool:
    """Whether a record (about ``about``, with this code and attrs JSON) is in the subject's
    file: it is about them, or it is a relation record that names them, which they may contest
    like their own (objections, reviews)."""
    return about == subject_id or named_person(code, attrs) == subject_id


def named_person(code: str, attrs: str) -> str | None:
    """The person a relation record (this code and attrs JSON) names; None for other records."""
    if role_of(code) is None:
        return None
    named = orjson.loads(attrs)
    person = named.get("person") if isinstance(named, dict) else None
    return person if isinstance(person, str) else None


def until_of(attrs: Mapping[str, object]) -> date | None:
    """``attrs.until`` as a date (None when absent); ingest refuses a malformed one."""
    value = attrs.get("until")
    return None if value is None else date.fromisoformat(str(value))


def relation_row_problem(
    code: str,
    subject_id: str,
    subject_kind: str,
    occurred_at: date,
    attrs: Mapping[str, object],
) -> RowProblem | None:
    """What is wrong with one relation row on its own, if anything (the person's id is checked
    and put in canonical form by the caller, like every subject id)."""
    if role_of(code) is None:
        return None
    if subject_kind != "organization":
        return RowProblem("subject_kind", "a relation is recorded about the organization")
    person = attrs.get("person")
    if not isinstance(person, str) or not person.strip():
        return RowProblem("attrs.person", "missing: the person's subject id")
    if person.strip() == subject_id:
        return RowProblem("attrs.person", f"names the record's own subject {subject_id!r}")
    return _until_problem(attrs.get("until"), occurred_at)


def _until_problem(until: object, occurred_at: date) -> RowProblem | None:
    if until is None:
        return None
    last = None
    if isinstance(until, str) and _DAY.fullmatch(until) is not None:
        try:
            last = date.fromisoformat(until)
        except ValueError:
            last = None
    if last is None:
        return RowProblem("attrs.until", f"must be a date YYYY-MM-DD, got {until!r}")
    if last < occurred_at:
        return RowProblem(
            "attrs.until", f"{until} is before the relation began ({occurred_at.isoformat()})"
        )
    return None
