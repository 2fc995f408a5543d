"""Conduct records: one fact about one subject, from one source.

A record is what a court, tax bureau, bank or city furnishes: *who* (``subject_id`` and its
kind), *what* (a catalog ``code`` and scalar ``attrs``), *when* (``occurred_at``, the date of the
judicial or administrative document), *who says so* (``source`` and its ``record_id``, unique per
source) and optionally the ``case_id`` that links related records (a listing and its later
fulfilment) and ``evidence`` (a document reference or URI). The ledger adds ``recorded_at`` and a
log position; records are never changed afterwards, only followed by events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

import orjson

__all__ = [
    "AttrValue",
    "ConductRecord",
    "SubjectKind",
    "canonical_attrs",
]

AttrValue = str | int | float | bool | None
"""Attribute values are JSON scalars; nested objects and arrays are refused at ingest."""


class SubjectKind(StrEnum):
    """A natural person or an organization (enterprise, institution, social group)."""

    PERSON = "person"
    ORGANIZATION = "organization"


@dataclass(frozen=True, slots=True)
class ConductRecord:
    """A validated conduct record, as furnished (before the ledger stamps it)."""

    record_id: str
    subject_id: str
    subject_kind: SubjectKind
    code: str
    occurred_at: date
    source: str
    case_id: str | None = None
    attrs: Mapping[str, AttrValue] = field(default_factory=dict)
    evidence: str | None = None

    @property
    def attrs_json(self) -> str:
        """The attributes in their canonical JSON form (sorted keys, no spaces)."""
        return canonical_attrs(self.attrs)


def canonical_attrs(attrs: Mapping[str, AttrValue]) -> str:
    """Serialize attributes canonically, so the same content always hashes the same."""
    return orjson.dumps(dict(attrs), option=orjson.OPT_SORT_KEYS).decode()
