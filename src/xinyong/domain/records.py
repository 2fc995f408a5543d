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
from typing import Any

import orjson

__all__ = [
    "SUBJECT_KINDS",
    "AttrValue",
    "InputRecord",
    "RecordSpan",
    "SubjectKind",
    "canonical_attrs",
]

AttrValue = str | int | float | bool | None
"""Attribute values are JSON scalars; nested objects and arrays are refused at ingest."""


class SubjectKind(StrEnum):
    """A natural person or an organization (enterprise, institution, social group)."""

    PERSON = "person"
    ORGANIZATION = "organization"


SUBJECT_KINDS = tuple(kind.value for kind in SubjectKind)
"""``("person", "organization")``."""


@dataclass(frozen=True, slots=True)
class InputRecord:
    """A conduct record as the evaluators read it (scoring, peer algorithms, explanations)."""

    record_id: str
    subject_id: str
    subject_kind: str
    code: str
    occurred_at: date
    source: str = ""
    case_id: str | None = None
    attrs: Mapping[str, Any] = field(default_factory=dict)
    position: int | None = None

    @property
    def key(self) -> str:
        """``source/record_id`` (or the record id alone for a file without sources)."""
        return f"{self.source}/{self.record_id}" if self.source else self.record_id


@dataclass(frozen=True, slots=True)
class RecordSpan:
    """A record and the first day it is no longer in force (None: it never stops), as the
    ledger's revocations, repairs and corrections leave it."""

    record: InputRecord
    stops: date | None


def canonical_attrs(attrs: Mapping[str, AttrValue]) -> str:
    """Serialize attributes canonically, so the same content always hashes the same."""
    return orjson.dumps(dict(attrs), option=orjson.OPT_SORT_KEYS).decode()
