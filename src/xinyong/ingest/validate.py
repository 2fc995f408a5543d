"""Validating one furnished record row against the record contract and the code catalog.

Each check names the field it is about, so a rejected row says exactly what to fix. The order of
the checks is the order of the fields; the first failing field is reported.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, cast

import orjson

from xinyong.domain.catalog import CODE_PATTERN, Catalog
from xinyong.domain.identifiers import IdentifierRefused, canonical_subject_id
from xinyong.domain.json_text import INT_MAX, INT_MIN, JsonRefused, parse_json
from xinyong.domain.peer_records import INTERACTION, PEER_CODES, peer_row_problem
from xinyong.domain.protected import protected_term
from xinyong.domain.records import SubjectKind
from xinyong.domain.relations import relation_row_problem, role_of
from xinyong.domain.row_problem import RowProblem
from xinyong.domain.sources import source_problem
from xinyong.domain.text import text_problem
from xinyong.ledger.append import RecordRow

__all__ = [
    "CLEAN_TEXT",
    "EARLIEST",
    "REQUIRED_FIELDS",
    "RecordValidator",
    "check_subject_id",
    "parse_attrs",
]

REQUIRED_FIELDS = ("record_id", "subject_id", "subject_kind", "code", "occurred_at", "source")

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_KINDS = {kind.value for kind in SubjectKind}
EARLIEST = date(1900, 1, 1)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
CLEAN_TEXT = re.compile(r"[^\s\x00-\x1f\x7f](?:[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f])?")
"""Text that ``_text`` would accept unchanged: no control characters, no outer whitespace."""
_SCALARS: dict[type, str] = {str: "string", int: "number", float: "number", bool: "boolean"}
_SHAPES_KEPT = 4096
"""How many shapes of attributes (code, names, types of value) a validator remembers: a file
whose rows each name other attributes is checked in full, row by row, past that."""


def _text(value: Any, name: str, limit: int, *, required: bool) -> str | RowProblem | None:
    if type(value) is str:  # the common case first: no conversions, one regex scan
        text = value.strip()
        if not text:
            return RowProblem(name, "missing") if required else None
        if len(text) > limit:
            return RowProblem(name, f"longer than {limit} characters")
        if _CONTROL.search(text):
            return RowProblem(name, "contains control characters")
        return text
    if value is None:
        return RowProblem(name, "missing") if required else None
    if isinstance(value, bool) or not isinstance(value, int):
        return RowProblem(name, f"must be text, got {type(value).__name__}")
    return _text(str(value), name, limit, required=required)


def check_subject_id(
    subject_id: object, kind: str | None, field: str = "subject_id"
) -> str | RowProblem:
    """The canonical subject id (:func:`~xinyong.domain.identifiers.canonical_subject_id`), or
    the problem with it, named under ``field``."""
    try:
        return canonical_subject_id(subject_id, kind)
    except IdentifierRefused as exc:
        return RowProblem(field, exc.reason)


def parse_attrs(
    value: Any, declared: Mapping[str, str], protected: frozenset[str]
) -> dict[str, Any] | RowProblem:
    """Parse ``attrs`` (JSON object text, a mapping, or empty) and check it against the catalog."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return {}
    if isinstance(value, str):
        try:
            value = parse_json(value)
        except JsonRefused as exc:
            return RowProblem("attrs", f"bad JSON: {exc}")
    if not isinstance(value, dict):
        return RowProblem("attrs", f"must be a JSON object, got {type(value).__name__}")
    for key, item in value.items():
        if not key:
            return RowProblem("attrs", "empty attribute name")
        # JSON text was checked by parse_json; a mapping (a Parquet struct, a JSON body's
        # object) is held to the same text: no control characters in names or strings
        problem = text_problem(key) if type(key) is str else "not text"
        if problem is not None:
            return RowProblem("attrs", f"attribute name {key!r}: {problem}")
        if isinstance(item, str) and (problem := text_problem(item)) is not None:
            return RowProblem(f"attrs.{key}", problem)
        match = protected_term(key, protected)
        if match is not None:
            return RowProblem(f"attrs.{key}", f"{match.reason()} and may not be collected")
        if item is not None and not isinstance(item, str | int | float | bool):
            return RowProblem(f"attrs.{key}", f"must be a scalar, got {type(item).__name__}")
        if type(item) is int and not INT_MIN <= item <= INT_MAX:
            return RowProblem(f"attrs.{key}", "number out of the 64-bit range")
        if type(item) is float and not math.isfinite(item):
            return RowProblem(f"attrs.{key}", f"must be a finite number, got {item}")
        expected = declared.get(key)
        if expected is not None and item is not None and not _has_type(item, expected):
            return RowProblem(f"attrs.{key}", f"must be a {expected}, got {_json_type(item)}")
    return value


def _has_type(value: object, expected: str) -> bool:
    if expected == "boolean":
        return isinstance(value, bool)
    if expected == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, str)


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string"


def _date(value: Any, today: date) -> date | RowProblem:
    if isinstance(value, datetime):
        if value.time() != datetime.min.time():
            return RowProblem("occurred_at", "must be a date, got a timestamp with a time of day")
        value = value.date()
    if isinstance(value, str):
        if not value.strip():
            return RowProblem("occurred_at", "missing")
        if not _DATE.fullmatch(value):  # as every scan reads text dates: no blanks around
            return RowProblem("occurred_at", f"bad date {value!r}: expected YYYY-MM-DD")
        try:
            value = date.fromisoformat(value)
        except ValueError:
            return RowProblem("occurred_at", f"bad date {value!r}: no such day")
    if value is None:
        return RowProblem("occurred_at", "missing")
    if not isinstance(value, date):
        return RowProblem("occurred_at", f"must be a date, got {type(value).__name__}")
    if value < EARLIEST:
        return RowProblem("occurred_at", f"{value} is before {EARLIEST}")
    if value > today:
        return RowProblem("occurred_at", f"{value} is in the future (today is {today})")
    return value


class RecordValidator:
    """Turns raw rows into ledger record rows, or says what is wrong with them."""

    def __init__(self, catalog: Catalog, source: str | None = None, today: date | None = None):
        if source is not None and (problem := source_problem(source)) is not None:
            raise ValueError(problem)
        self.catalog = catalog
        self.source = source
        self.today = today or date.today()
        # Values repeat across rows (a subject has many records, dates and codes recur): each
        # distinct value is checked once per ingest.
        self._subjects: dict[tuple[str, str], str | RowProblem] = {}
        self._dates: dict[Any, date | RowProblem] = {}
        self._sources: dict[str, bool] = {}
        self._keys: dict[tuple[str, object], str | bool] = {}
        self._shapes: dict[tuple[object, ...], bool] = {}
        self.allowed = frozenset(
            (entry.code, kind) for entry in catalog.codes.values() for kind in entry.subject_kinds
        )
        self.plain = frozenset(
            (code, kind)
            for code, kind in self.allowed
            if code not in PEER_CODES and role_of(code) is None
        )
        """The (code, kind) pairs whose rows name no other subject (not a rating, an
        interaction or a relation): their own checks are all there is."""

    def validate(self, raw: Mapping[str, Any]) -> RecordRow | RowProblem:
        """Validate one row; return the normalised record row or the first problem."""
        fast = self._fast(raw)
        return self._linked(fast if fast is not None else self._checked(raw))

    def subject_cached(self, subject_id: str, kind: str) -> str | RowProblem:
        """The canonical form of a subject id of ``kind`` (already stripped), or its problem;
        checked once per distinct pair."""
        key = (subject_id, kind)
        checked = self._subjects.get(key)
        if checked is None:
            checked = self._subjects[key] = check_subject_id(subject_id, kind)
        return checked

    def day(self, value: object) -> date | RowProblem:
        """``occurred_at`` as a date, or its problem; a text or date checked once per value."""
        if not isinstance(value, str | date):
            return _date(value, self.today)
        occurred = self._dates.get(value)
        if occurred is None:
            occurred = self._dates[value] = _date(value, self.today)
        return occurred

    def source_cached(self, value: str) -> str | RowProblem:
        """A row's own source name when it is one as it stands (no outer spaces), else why not
        (the row's own checks then name the problem)."""
        text = _text(value, "source", 64, required=True)
        if text != value or not self._source_valid(value):
            return RowProblem("source", "not a source name as it stands")
        return value

    def _source_valid(self, source: str) -> bool:
        valid = self._sources.get(source)
        if valid is None:
            valid = self._sources[source] = source_problem(source) is None
        return valid

    def _linked(self, row: RecordRow | RowProblem) -> RecordRow | RowProblem:
        """The checks of a row that names another subject (a rating, an interaction, a
        relation), after the row's own."""
        if isinstance(row, RowProblem):
            return row
        if row[4] in PEER_CODES:
            return self._peer(row)
        if role_of(row[4]) is not None:
            return self._relation(row)
        return row

    def _relation(self, row: RecordRow) -> RecordRow | RowProblem:
        """A relation names a person in its attributes: that id is put in canonical form like
        the record's own (:mod:`xinyong.domain.relations`)."""
        attrs = orjson.loads(row[7])
        problem = relation_row_problem(row[4], row[2], row[3], row[5], attrs)
        if problem is not None:
            return problem
        checked = check_subject_id(attrs["person"], "person", "attrs.person")
        if isinstance(checked, RowProblem):
            return checked
        if checked == row[2]:
            return RowProblem("attrs.person", f"names the record's own subject {row[2]!r}")
        if checked == attrs["person"]:
            return row
        attrs["person"] = checked
        text = orjson.dumps(attrs, option=orjson.OPT_SORT_KEYS).decode()
        return (*row[:7], text, row[8])

    def _peer(self, row: RecordRow) -> RecordRow | RowProblem:
        """An interaction or rating names another subject in its attributes: that id is put in
        canonical form like the record's own."""
        attrs = orjson.loads(row[7])
        problem = peer_row_problem(row[4], row[2], row[6], attrs)
        if problem is not None:
            return problem
        other = "counterpart" if row[4] == INTERACTION else "rater"
        checked = check_subject_id(attrs[other], None, f"attrs.{other}")
        if isinstance(checked, RowProblem):
            return checked
        if checked == row[2]:
            return RowProblem(f"attrs.{other}", f"names the record's own subject {row[2]!r}")
        if checked == attrs[other]:
            return row
        attrs[other] = checked
        text = orjson.dumps(attrs, option=orjson.OPT_SORT_KEYS).decode()
        return (*row[:7], text, row[8])

    def _fast(self, raw: Mapping[str, Any]) -> RecordRow | None:
        """The common case in one pass: every field already clean text or a date.

        Returns None as soon as anything is unusual; :meth:`_checked` then decides, and names
        the field. Both give the same row for any row both accept.
        """
        get = raw.get
        record_id, subject_id = get("record_id"), get("subject_id")
        kind, code = cast(str, get("subject_kind")), cast(str, get("code"))
        day, source = get("occurred_at"), get("source")
        clean = CLEAN_TEXT.fullmatch
        if (
            type(record_id) is not str
            or len(record_id) > 200
            or not clean(record_id)
            or type(subject_id) is not str
            or len(subject_id) > 128
            or not clean(subject_id)
            or (code, kind) not in self.allowed
        ):
            return None
        checked_id = self._subjects.get((subject_id, kind))
        if type(checked_id) is not str:
            return None
        occurred = self._dates.get(day) if type(day) in (str, date) else None
        if type(occurred) is not date:
            return None
        if self.source is None:
            if type(source) is not str or self._sources.get(source) is not True:
                return None
        elif source is None or source == "":
            source = self.source
        elif source != self.source:
            return None
        case_id = get("case_id")
        if case_id == "":
            case_id = None
        elif case_id is not None and (
            type(case_id) is not str or len(case_id) > 200 or not clean(case_id)
        ):
            return None
        evidence = get("evidence")
        if evidence == "":
            evidence = None
        elif evidence is not None and (
            type(evidence) is not str or len(evidence) > 2000 or not clean(evidence)
        ):
            return None
        text = self.clean_attrs(code, get("attrs"))
        if text is None:
            return None
        return (source, record_id, checked_id, kind, code, occurred, case_id, text, evidence)

    def clean_attrs(self, code: str, attrs: object) -> str | None:
        """The canonical text of ``attrs`` when it is already canonical JSON (or empty) that
        every check accepts, else None (:meth:`_checked` then decides and names the problem).

        JSON text is read with orjson; when writing the value back gives the same text, with
        its keys sorted or in the order given, it is what
        :func:`~xinyong.domain.json_text.parse_json` would read (a key given twice or an
        integer past 64 bits, which orjson reads as a float, would not write back the same;
        escaped control characters are caught by the checks of each value), so the strict
        reader, several times slower, runs only for text that is written otherwise.

        What depends only on the names and the types of the values (a refused name, a value
        of the wrong type) is decided once per code and shape (:meth:`_shape_accepted`);
        what depends on a value (control characters, a non-finite number, an integer out of
        range) is checked for each.
        """
        if attrs is None or attrs in ("", "{}"):
            return "{}"
        if type(attrs) is str:
            try:
                value = orjson.loads(attrs)
            except orjson.JSONDecodeError:
                return None
        else:
            value = attrs
        if type(value) is not dict:
            return None
        shape = (code, *value, *map(type, value.values()))  # n names, then n types
        accepted = self._shapes.get(shape)
        if accepted is None:
            accepted = self._shape_accepted(code, value)
            if len(self._shapes) < _SHAPES_KEPT:
                self._shapes[shape] = accepted
        if not accepted:
            return None
        for item in value.values():
            kind = type(item)
            if kind is str:
                if text_problem(item) is not None:
                    return None
            elif kind is float:
                if not math.isfinite(item):
                    return None
            elif kind is int and not INT_MIN <= item <= INT_MAX:
                return None
        try:
            text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
        except TypeError:  # a name that equals a str but is not one: the checks name it
            return None
        if (
            type(attrs) is str
            and text != attrs
            and (len(value) < 2 or orjson.dumps(value).decode() != attrs)
        ):  # written otherwise (spaces, escapes, a name twice): the strict reader decides
            try:
                strict = parse_json(attrs)
            except JsonRefused:
                return None
            if orjson.dumps(strict, option=orjson.OPT_SORT_KEYS).decode() != text:
                return None
        return text

    def _shape_accepted(self, code: str, value: Mapping[object, object]) -> bool:
        """Whether attributes of ``code`` with these names and types of value pass the checks
        that look at nothing else: each name allowed, each value a scalar of its declared type
        (or null)."""
        declared = self.catalog.codes[code].attrs
        for key, item in value.items():
            expected = self._keys.get((code, key))
            if expected is None:
                expected = self._keys[(code, key)] = self._key_type(key, declared)
            if expected is False or (item is not None and type(item) not in _SCALARS):
                return False
            if expected is not True and item is not None and _SCALARS[type(item)] != expected:
                return False
        return True

    def _key_type(self, key: object, declared: Mapping[str, str]) -> str | bool:
        """For an attribute name of a code: False when the name itself is refused (empty, not
        plain text, protected), else its declared type, or True when any type will do."""
        if (
            type(key) is not str
            or not key
            or text_problem(key) is not None
            or protected_term(key, self.catalog.protected_attributes) is not None
        ):
            return False
        return declared.get(key, True)

    def _checked(self, raw: Mapping[str, Any]) -> RecordRow | RowProblem:
        """Every check in field order, naming the first field at fault."""
        record_id = _text(raw.get("record_id"), "record_id", 200, required=True)
        if isinstance(record_id, RowProblem):
            return record_id
        subject_id = _text(raw.get("subject_id"), "subject_id", 128, required=True)
        if isinstance(subject_id, RowProblem):
            return subject_id
        kind = raw.get("subject_kind")
        if kind is None or kind == "":
            return RowProblem("subject_kind", "missing")
        if kind not in _KINDS:
            return RowProblem(
                "subject_kind", f"unknown subject kind {kind!r}: use person or organization"
            )
        checked_id = self.subject_cached(str(subject_id), kind)
        if isinstance(checked_id, RowProblem):
            return checked_id
        code = raw.get("code")
        if code is None or code == "":
            return RowProblem("code", "missing")
        if not isinstance(code, str) or not CODE_PATTERN.match(code):
            return RowProblem(
                "code", f"malformed code {code!r}: expected dotted lowercase like 'court.defaulter'"
            )
        entry = self.catalog.get(code)
        if entry is None:
            return RowProblem(
                "code", f"code {code!r} is not in the catalog ({self.catalog.source.name})"
            )
        if kind not in entry.subject_kinds:
            return RowProblem("code", f"code {code!r} is not collected for {kind} subjects")
        occurred = self.day(raw.get("occurred_at"))
        if isinstance(occurred, RowProblem):
            return occurred
        source = _text(raw.get("source"), "source", 64, required=self.source is None)
        if isinstance(source, RowProblem):
            return source
        if self.source is not None:
            if source is not None and source != self.source:
                return RowProblem(
                    "source", f"source {source!r} does not match --source {self.source!r}"
                )
            source = self.source
        assert source is not None
        if not self._source_valid(source):
            return RowProblem("source", str(source_problem(source)))
        case_id = _text(raw.get("case_id"), "case_id", 200, required=False)
        if isinstance(case_id, RowProblem):
            return case_id
        attrs = parse_attrs(raw.get("attrs"), entry.attrs, self.catalog.protected_attributes)
        if isinstance(attrs, RowProblem):
            return attrs
        evidence = _text(raw.get("evidence"), "evidence", 2000, required=False)
        if isinstance(evidence, RowProblem):
            return evidence
        return (
            source,
            str(record_id),
            checked_id,
            kind,
            code,
            occurred,
            case_id,
            orjson.dumps(attrs, option=orjson.OPT_SORT_KEYS).decode(),
            evidence,
        )
