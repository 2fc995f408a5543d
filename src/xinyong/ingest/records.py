"""Ingesting a file of conduct records into the ledger.

Each batch of rows is validated, deduplicated and appended in one transaction, so a killed
ingest leaves whole batches and running the same command again completes the job:

- a row whose ``(source, record_id)`` is already in the ledger with the same content is a
  duplicate and adds nothing (re-ingesting a file is a no-op);
- the same key with different content is a *conflict*: rejected and reported, never overwritten
  (a furnisher corrects a record through a correction event, not by resending it);
- a subject is registered the first time its id is seen; a record that contradicts the
  registered kind of its subject is rejected;
- a peer rating must pass the cross-record checks of :mod:`xinyong.peer.admission` (an
  interaction of both parties, the rating window, once per interaction, the daily limit),
  decided after duplicates are set aside, in the order of the rows.

Lookups of existing keys happen inside the write lock. When this run is the only writer since it
first saw a source that was empty, the lookups for that source are skipped: only this run's own
rows can collide, and those are checked in memory.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from itertools import compress, count, filterfalse
from operator import is_, is_not, itemgetter
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, Engine, select

from xinyong.domain.catalog import Catalog
from xinyong.domain.chunks import chunked
from xinyong.domain.identifiers import LENGTH, resident_id_problem
from xinyong.domain.peer_records import PEER_CODES
from xinyong.domain.row_problem import RowProblem
from xinyong.ingest.collector import fewer_collections
from xinyong.ingest.columnar import validate_batch
from xinyong.ingest.gate import Gate
from xinyong.ingest.read_ahead import ramp_up, read_ahead
from xinyong.ingest.readers import (
    UNREADABLE,
    BadLine,
    batch_rows,
    count_rows,
    detect_format,
    parquet_batches,
    read_batches,
)
from xinyong.ingest.reject_log import log_rejects
from xinyong.ingest.rejects import Reject, write_rejects
from xinyong.ingest.validate import REQUIRED_FIELDS, RecordValidator
from xinyong.ledger.append import Batch, RecordRow, SubjectRow, TreeHead, append_batch
from xinyong.ledger.database import LoadStatistics, appending, fold_log, refresh_if_stale
from xinyong.ledger.schema import records, subjects
from xinyong.peer.admission import RatingAdmission

__all__ = ["IngestReport", "file_ingested", "ingest_in_one_process", "ingest_rows"]


@dataclass(slots=True)
class IngestReport:
    """What an ingest did."""

    path: Path
    rows: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    conflicts: int = 0
    new_subjects: int = 0
    batches: int = 0
    seconds: float = 0.0
    head: TreeHead | None = None
    rejects_file: Path | None = None
    rejects: list[Reject] = field(default_factory=list)
    named: set[str] = field(default_factory=set)
    """The subjects of the rows that passed validation, as canonical ids (the refresh after an
    API submission is of them; a file's report leaves this empty, as a file may name millions)."""

    @property
    def rows_per_second(self) -> float:
        """Input rows processed per second of wall time."""
        return self.rows / self.seconds if self.seconds else 0.0


def _subject_registration(subject_id: str, kind: str) -> SubjectRow:
    """The subject entry written when an id is first seen: its identifiers inferred from it.

    ``subject_id`` must be canonical for ``kind``, as the validator gives it (nothing else calls
    this, and nothing is checked again here). Of such ids only 18 letters and digits can be an
    identifier: a person's is then a valid resident ID, an organization's a valid USCC, which is
    named as such unless it is also a valid resident ID
    (:func:`~xinyong.domain.identifiers.classify`'s order). A property test holds this to
    ``classify``.
    """
    identifiers = "{}"
    if len(subject_id) == LENGTH and subject_id.isalnum():
        if kind == "person":
            identifiers = f'{{"resident_id":"{subject_id}"}}'
        elif kind == "organization" and resident_id_problem(subject_id) is not None:
            identifiers = f'{{"uscc":"{subject_id}"}}'
    return (subject_id, kind, None, identifiers)


class _Run:
    """State carried from batch to batch of one ingest."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], int] = {}
        self.kinds: dict[str, str] = {}
        self.fresh_sources: set[str] = set()
        self.checked_sources: set[str] = set()
        self.fresh_subjects = False
        """True while no subject existed before this run and nobody else has written since."""
        self.last_size = -1


def ingest_in_one_process(
    engine: Engine,
    path: Path,
    catalog: Catalog,
    *,
    source: str | None = None,
    batch_size: int = 50_000,
    today: date | None = None,
    progress: Callable[[int, int | None], None] | None = None,
) -> IngestReport:
    """Ingest ``path`` (CSV, Parquet or JSON Lines) into the ledger behind ``engine``, in this
    process (:func:`xinyong.ingest.files.ingest_records` chooses between this and a second
    process)."""
    validator = RecordValidator(catalog, source=source, today=today)
    required = [name for name in REQUIRED_FIELDS if not (name == "source" and source)]
    report = IngestReport(path)
    total = count_rows(path)
    run = _Run()
    gate = Gate()
    started = time.perf_counter()
    validated = _validated(path, validator, required, batch_size)
    with (
        fewer_collections(),
        LoadStatistics(engine) as statistics,
        closing(validated),  # closed last, once the reading thread has left it
        closing(read_ahead(_decided_ahead(validated, run, gate))) as batches,
        gate,  # closed first on the way out: the reading thread may be waiting at it
    ):
        for index, checked in enumerate(batches):
            report.rows += checked.rows
            report.rejects.extend(checked.rejects)
            accepted = report.accepted
            looked_up = _append(
                engine,
                checked.good,
                checked.facts,
                run,
                report,
                catalog,
                f"ingest {path.name}",
                checked.ahead,
                partial(gate.settle, index + 1),
                statistics.before_lookups,
                bulk=True,
            )
            gate.settle(index + 1)
            statistics.add(report.accepted - accepted, planned=looked_up)
            if progress is not None:
                progress(report.rows, total)
        file_ingested(engine, report, source, statistics)
    report.seconds = time.perf_counter() - started
    return report


def file_ingested(
    engine: Engine, report: IngestReport, source: str | None, statistics: LoadStatistics
) -> None:
    """The end of a file's ingest, in one process or two: its rejects counted, written beside
    it and logged, the ledger's log folded into its file, and the planner's statistics brought
    up to date for the whole load."""
    fold_log(engine)
    report.rejected = len(report.rejects)
    report.rejects_file = write_rejects(report.path, report.rejects)
    log_rejects(engine, f"file {report.path.name}", source, report.rejects)
    statistics.finish()


_ROW = itemgetter(1)
"""The row of a (line, row) pair."""
_IS_NONE, _IS_NOT_NONE = partial(is_, None), partial(is_not, None)
_SOURCE, _RECORD_ID, _SUBJECT, _KIND, _CODE = (itemgetter(i) for i in range(5))
"""Fields of a record row."""


@dataclass(slots=True, frozen=True)
class _Facts:
    """What a batch's valid rows say of themselves, before anything is compared with the run
    or the ledger. The reading thread works them out (:func:`_validated`) while the batch
    before is appended, so that the appending thread, which the database waits for between
    batches, only compares them with the run's state."""

    keys: dict[tuple[str, str], int]
    """Each key the rows have, with the hash of (the last) row that has it: as many entries
    as rows when the keys are distinct."""
    subjects: dict[str, str] | None
    """Each subject id the rows name, with its kind, in the order they first appear; None
    when some id comes with two kinds."""
    ratings: bool
    """Whether a row has a peer code (the admission checks then look at the ledger)."""
    sources: frozenset[str]
    """The sources the rows name."""

    @classmethod
    def of(cls, rows: Sequence[tuple[int, RecordRow]]) -> _Facts:
        """The facts of ``rows`` (line, row)."""
        records = list(map(_ROW, rows))  # loops in C throughout: no bytecode per row
        keys = zip(map(_SOURCE, records), map(_RECORD_ID, records), strict=True)
        ids, kinds = list(map(_SUBJECT, records)), list(map(_KIND, records))
        subjects = dict(zip(ids, kinds, strict=True))  # each id's last kind, in order of first
        return cls(
            dict(zip(keys, map(hash, records), strict=True)),
            subjects if list(map(subjects.get, ids)) == kinds else None,
            not frozenset(PEER_CODES).isdisjoint(map(_CODE, records)),
            frozenset(map(_SOURCE, records)),
        )


@dataclass(slots=True)
class _Checked:
    """One batch of the file, validated: its valid rows with their lines, and its rejects."""

    rows: int = 0
    good: list[tuple[int, RecordRow]] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    facts: _Facts | None = None
    """The facts of ``good``, when the reading thread has worked them out."""
    ahead: _Ahead | None = None
    """What of ``good`` goes into the ledger, when the reading thread could decide it ahead."""

    def check(
        self, validator: RecordValidator, line: int, values: Mapping[str, Any]
    ) -> RecordRow | None:
        """One row validated alone: its record row, or None with its reject kept."""
        row = validator.validate(values)
        if isinstance(row, RowProblem):
            self.rejects.append(Reject.of(line, row.field, row.reason, values))
            return None
        return row

    def add(self, validator: RecordValidator, line: int, values: Mapping[str, Any]) -> None:
        """One row validated alone, into the good rows or the rejects."""
        row = self.check(validator, line, values)
        if row is not None:
            self.good.append((line, row))


@dataclass(slots=True, frozen=True)
class _Ahead:
    """A batch decided by the reading thread before its append, and what that changed in the
    run's state (so that it can be undone)."""

    batch: Batch
    keys: Iterable[tuple[str, str]]
    """The keys added to ``run.seen``: none was there before."""
    subjects: list[str]
    """The ids added to ``run.kinds``: none was there before."""

    def undo(self, run: _Run) -> None:
        """Take the decision back: the run's state becomes what it was before it."""
        seen, kinds = run.seen, run.kinds
        for key in self.keys:
            del seen[key]
        for subject_id in self.subjects:
            del kinds[subject_id]


def _decided_ahead(batches: Iterable[_Checked], run: _Run, gate: Gate) -> Iterator[_Checked]:
    """The batches, each decided ahead where it can be (:func:`_decide_ahead`), once every
    batch before it is settled (``gate``). Runs in the reading thread, beside the append of the
    batch before, and touches the run's state only while the appending thread leaves it alone:
    between settling a batch (after which it sets only ``run.last_size``) and taking the next."""
    for index, checked in enumerate(batches):
        if not gate.wait(index):
            return
        checked.ahead = _decide_ahead(checked, run)
        yield checked


def _decide_ahead(checked: _Checked, run: _Run) -> _Ahead | None:
    """What of the batch goes into the ledger, decided without it, or None. It can be when the
    run itself has decided everything since it found the ledger empty of its sources and
    subjects (then no lookup is needed), no row is a rating (those look at the ledger), and the
    batch is the common case of :func:`_batch_of` (:func:`_whole`) with keys new to the run.
    The appending thread takes the decision only when no one else has written since the run's
    last batch (:func:`_append`), and undoes it otherwise."""
    facts, good = checked.facts, checked.good
    if (
        facts is None
        or not good
        or facts.ratings
        or not run.fresh_subjects
        or not facts.sources <= run.fresh_sources
        or not run.seen.keys().isdisjoint(facts.keys)
    ):
        return None
    batch = _whole(good, facts, run)
    if batch is None:
        return None
    return _Ahead(batch, facts.keys, [subject[0] for subject in batch.subjects])


def _validated(
    path: Path,
    validator: RecordValidator,
    required: Sequence[str],
    batch_size: int,
) -> Generator[_Checked, None, None]:
    """The file validated batch by batch. A Parquet batch is validated in columns, and only its
    unusual rows one by one. Nothing here touches the ledger: batches are read ahead of the one
    being appended (:func:`~xinyong.ingest.read_ahead.read_ahead`). The first batch comes in
    parts (:func:`~xinyong.ingest.read_ahead.ramp_up`), in one process as in two, so that both
    write the same entries at the same positions."""
    if detect_format(path) == "parquet":
        line = 1
        for batch in ramp_up(parquet_batches(path, required, batch_size)):
            try:
                rows = validate_batch(validator, batch)
            except UNREADABLE:  # a value Python cannot hold: row by row, to name it
                rows = [None] * batch.num_rows
            checked = _Checked(batch.num_rows)
            alone = list(compress(count(), map(_IS_NONE, rows)))
            for index, item in zip(alone, batch_rows(batch, line, alone), strict=True):
                if isinstance(item, BadLine):
                    checked.rejects.append(Reject.of(item.line, item.field, item.reason, item.text))
                    continue
                rows[index] = checked.check(validator, item.line, item.values)
            numbered = compress(zip(count(line), rows), map(_IS_NOT_NONE, rows))  # no Nones
            checked.good = list(cast("Iterator[tuple[int, RecordRow]]", numbered))
            checked.facts = _Facts.of(checked.good)
            yield checked
            line += batch.num_rows
        return
    for raw_batch in ramp_up(read_batches(path, required, batch_size)):
        checked = _Checked(len(raw_batch))
        for item in raw_batch:
            if isinstance(item, BadLine):
                checked.rejects.append(Reject.of(item.line, item.field, item.reason, item.text))
            else:
                checked.add(validator, item.line, item.values)
        checked.facts = _Facts.of(checked.good)
        yield checked


def ingest_rows(
    engine: Engine,
    rows: Sequence[Mapping[str, object]],
    catalog: Catalog,
    *,
    source: str,
    today: date | None = None,
    note: str = "api",
) -> IngestReport:
    """Validate and append rows submitted through the API, in one batch (same rules as files).

    ``line`` in the rejects is the row's index from 1.
    """
    validator = RecordValidator(catalog, source=source, today=today)
    report = IngestReport(Path(note))
    started = time.perf_counter()
    checked = _Checked(len(rows))
    for index, raw in enumerate(rows, start=1):
        checked.add(validator, index, raw)
    report.rows = checked.rows
    report.rejects.extend(checked.rejects)
    report.named.update(str(row[2]) for _, row in checked.good)
    if checked.good:
        refresh_if_stale(engine)  # before the write lock: an analysis holds no writer back
    _append(engine, checked.good, None, _Run(), report, catalog, note)
    report.rejected = len(report.rejects)
    log_rejects(engine, note, source, report.rejects)
    report.seconds = time.perf_counter() - started
    return report


def _append(
    engine: Engine,
    good: Sequence[tuple[int, RecordRow]],
    facts: _Facts | None,
    run: _Run,
    report: IngestReport,
    catalog: Catalog,
    note: str,
    ahead: _Ahead | None = None,
    settled: Callable[[], None] = lambda: None,
    before_lookups: Callable[[], None] = lambda: None,
    *,
    bulk: bool = False,
) -> bool:
    """Append what of ``good`` goes into the ledger, in one transaction. Returns whether the
    batch looked anything up in the ledger's large tables (existing keys, registered kinds, the
    records that admit a rating), whose plans depend on the planner's statistics: a load into
    an empty ledger, alone, looks nothing up. ``facts``: those of ``good``, if known; ``ahead``:
    the batch as decided ahead (:func:`_decide_ahead`), taken if no one else has written since
    the run's last batch; ``settled``: called once the batch is decided for good, before it is
    written; ``before_lookups``: called before the batch looks anything up (the planner's
    statistics are brought up to date there, :meth:`LoadStatistics.before_lookups`); ``bulk``:
    the batch is one of a load's (:func:`~xinyong.ledger.database.bulk_commits`)."""
    if ahead is None:
        fresh, fresh_facts = _fresh(good, facts, run, report)
        if not fresh:
            settled()
            return False
    with appending(engine, bulk=bulk) as conn:
        size = _head_size(conn)
        if ahead is not None and size == run.last_size:
            batch, looked_up = ahead.batch, False
        else:
            if ahead is not None:  # someone else wrote since: decide again, with lookups
                ahead.undo(run)
                fresh, fresh_facts = _fresh(good, facts, run, report)
            batch, looked_up = _decide(
                conn, size, fresh, fresh_facts, run, report, catalog, before_lookups
            )
        settled()
        if len(batch):
            head = append_batch(conn, batch, note)
            report.head = head
            report.batches += 1
            report.accepted += len(batch.records)
            report.new_subjects += len(batch.subjects)
            run.last_size = head.size
        else:
            run.last_size = size
    return looked_up


def _fresh(
    good: Sequence[tuple[int, RecordRow]], facts: _Facts | None, run: _Run, report: IngestReport
) -> tuple[list[tuple[int, RecordRow]], _Facts]:
    """The rows of ``good`` whose keys the run has not taken (:func:`_first_seen`), with their
    facts (``facts``: those of ``good``, if known)."""
    if facts is None:
        facts = _Facts.of(good)
    fresh = _first_seen(good, facts, run, report)
    return fresh, facts if len(fresh) == len(good) else _Facts.of(fresh)


def _decide(
    conn: Connection,
    size: int,
    fresh: Sequence[tuple[int, RecordRow]],
    facts: _Facts,
    run: _Run,
    report: IngestReport,
    catalog: Catalog,
    before_lookups: Callable[[], None],
) -> tuple[Batch, bool]:
    """What of ``fresh`` (rows whose keys the run has not taken; ``facts``: theirs) goes into
    the ledger at ``size``, looked up under the write lock where needed, and whether anything
    was."""
    to_look_up = _rows_to_look_up(conn, fresh, run, size)  # brings the run up to ``size``
    if not fresh:
        return Batch(), False
    peer_rows = [row for _, row in fresh if row[4] in PEER_CODES] if facts.ratings else []
    looked_up = bool(to_look_up) or not run.fresh_subjects or bool(peer_rows)
    if looked_up:
        before_lookups()
    existing = _existing(conn, to_look_up)
    if not run.fresh_subjects:  # else every id not in run.kinds is new
        _known_kinds(conn, run, (row[2] for _, row in fresh))
    admission = RatingAdmission(conn, catalog.ratings, peer_rows) if peer_rows else None
    return _batch_of(fresh, facts, existing, admission, run, report), looked_up


def _batch_of(
    fresh: Sequence[tuple[int, RecordRow]],
    facts: _Facts,
    existing: Mapping[tuple[str, str], RecordRow],
    admission: RatingAdmission | None,
    run: _Run,
    report: IngestReport,
) -> Batch:
    """What of ``fresh`` goes into the ledger: the rows admitted, in order, and the subjects
    they name for the first time (registered in ``run.kinds``); the rest are counted or
    rejected in ``report``. The rows are decided in order, each as if it came alone: a key
    repeated in the batch is a duplicate or a conflict of the row admitted before it, and is
    decided afresh when that row was refused. ``facts``: those of ``fresh``."""
    if not existing and admission is None:
        whole = _whole(fresh, facts, run)
        if whole is not None:  # the common case: nothing to look at row by row
            return whole
    batch = Batch()
    kinds, seen = run.kinds, run.seen
    keys = [(row[0], row[1]) for _, row in fresh]
    for (line, row), key in zip(fresh, keys, strict=True):
        previous = seen.get(key)
        if previous is not None:  # a row with this key was taken (or found) earlier
            _repeated(line, row, previous, report)
            continue
        stored = existing.get(key) if existing else None
        if stored is not None and stored == row:
            report.duplicates += 1
            seen[key] = hash(row)
            continue
        kind = kinds.get(row[2])
        if (stored is not None or admission is not None or kind not in (None, row[3])) and (
            not _admitted(line, row, stored, run, admission, report)
        ):
            continue
        seen[key] = hash(row)
        if kind is None:
            kinds[row[2]] = row[3]
            batch.subjects.append(_subject_registration(row[2], row[3]))
        batch.records.append(row)
    return batch


def _whole(fresh: Sequence[tuple[int, RecordRow]], facts: _Facts, run: _Run) -> Batch | None:
    """All of ``fresh`` (rows whose keys the run has not taken; ``facts``: theirs) with the
    subjects they name for the first time, taken into the run's state, when nothing in the
    ledger has a say and no row needs a look of its own: the keys are distinct and each subject
    comes with the kind it has. None (and nothing taken) otherwise."""
    if len(facts.keys) != len(fresh):
        return None
    new = new_subjects(facts.subjects, run.kinds)
    if new is None:
        return None
    run.kinds.update(new)
    run.seen.update(facts.keys)
    return Batch(
        subjects=[_subject_registration(subject_id, kind) for subject_id, kind in new],
        records=[row for _, row in fresh],
    )


def new_subjects(
    subjects: Mapping[str, str] | None, kinds: Mapping[str, str]
) -> list[tuple[str, str]] | None:
    """Of a batch's ``subjects`` (:attr:`_Facts.subjects`), those (id, kind) that ``kinds``
    does not hold, in the order they first appear, when every row gives its subject the kind
    it has (in ``kinds``, or in the subject's first row); None when some row does not."""
    if subjects is None:
        return None
    given = list(subjects.values())
    if list(map(kinds.get, subjects, given)) != given:  # a known id with another kind (in C)
        return None
    return [
        (subject_id, subjects[subject_id])
        for subject_id in filterfalse(kinds.__contains__, subjects)
    ]


def _first_seen(
    good: Sequence[tuple[int, RecordRow]], facts: _Facts, run: _Run, report: IngestReport
) -> list[tuple[int, RecordRow]]:
    """The rows whose key no earlier batch of this run has taken; the others are duplicates or
    conflicts, counted (and conflicts rejected) here, without the database. Keys repeated within
    the batch are left to :func:`_batch_of`, which decides the rows in order."""
    seen = run.seen
    if seen.keys().isdisjoint(facts.keys):
        return list(good)
    fresh: list[tuple[int, RecordRow]] = []
    for line, row in good:
        previous = seen.get((row[0], row[1]))
        if previous is None:
            fresh.append((line, row))
        else:
            _repeated(line, row, previous, report)
    return fresh


def _repeated(line: int, row: RecordRow, previous: int, report: IngestReport) -> None:
    """Count a row whose key this run has taken before (``previous``: that row's hash): a
    duplicate when it is the same row, else a conflict, rejected."""
    if previous == hash(row):
        report.duplicates += 1
        return
    report.conflicts += 1
    report.rejects.append(
        Reject.of(
            line,
            "record_id",
            f"conflict: record_id {row[1]!r} of source "
            f"{row[0]!r} appears earlier in this file with different content",
            _row_dict(row),
        )
    )


def _rows_to_look_up(
    conn: Connection, fresh: Sequence[tuple[int, RecordRow]], run: _Run, size: int
) -> list[RecordRow]:
    """The rows whose keys may already be in the ledger: those of sources that existed before
    this run, or that someone else has written to since (the run's state is brought up to date
    with the ledger at ``size``)."""
    if run.last_size < 0:
        run.fresh_subjects = size == 0 or not _any_subject(conn)
    elif size != run.last_size:  # someone else wrote since our last batch
        run.fresh_sources.clear()
        run.fresh_subjects = False
    to_check = [row for _, row in fresh if row[0] not in run.fresh_sources]
    for src in {row[0] for row in to_check} - run.checked_sources:
        run.checked_sources.add(src)
        if (size == run.last_size or run.last_size < 0) and not _source_exists(conn, src):
            run.fresh_sources.add(src)
    return [row for row in to_check if row[0] not in run.fresh_sources]


def _admitted(
    line: int,
    row: RecordRow,
    stored: RecordRow | None,
    run: _Run,
    admission: RatingAdmission | None,
    report: IngestReport,
) -> bool:
    """Whether a row whose key this run has not taken goes into the ledger; when not, it is
    rejected: ``stored`` (the ledger's other row with its key) is a conflict, or the ledger's
    other records refuse it."""
    if stored is not None:
        report.conflicts += 1
        problem: RowProblem | None = RowProblem(
            "record_id",
            f"conflict: record_id {row[1]!r} of source {row[0]!r} is already in the ledger "
            "with different content; send a correction instead",
        )
    else:
        problem = _cross_record_problem(row, run, admission)
    if problem is None:
        return True
    report.rejects.append(Reject.of(line, problem.field, problem.reason, _row_dict(row)))
    return False


def _cross_record_problem(
    row: RecordRow, run: _Run, admission: RatingAdmission | None
) -> RowProblem | None:
    """What the ledger's other records say against a new row: its subject registered as another
    kind, or a rating the admission checks refuse."""
    kind = run.kinds.get(row[2])
    if kind is not None and kind != row[3]:
        return RowProblem(
            "subject_kind", f"subject {row[2]!r} is registered as {kind}, not {row[3]}"
        )
    return admission.check(row) if admission is not None else None


def _row_dict(row: RecordRow) -> dict[str, object]:
    names = (
        "source",
        "record_id",
        "subject_id",
        "subject_kind",
        "code",
        "occurred_at",
        "case_id",
        "attrs",
        "evidence",
    )
    return dict(zip(names, row, strict=True))


def _head_size(conn: Connection) -> int:
    value = conn.exec_driver_sql("SELECT max(size) FROM checkpoints").scalar()
    return int(value or 0)


def _any_subject(conn: Connection) -> bool:
    return conn.execute(select(subjects.c.position).limit(1)).first() is not None


def _source_exists(conn: Connection, source: str) -> bool:
    query = select(records.c.position).where(records.c.source == source).limit(1)
    return conn.execute(query).first() is not None


def _known_kinds(conn: Connection, run: _Run, subject_ids: Iterable[str]) -> None:
    """Load the registered kind of every id not yet in the run's cache."""
    unknown = sorted({sid for sid in subject_ids if sid not in run.kinds})
    for chunk in chunked(unknown):
        query = select(subjects.c.subject_id, subjects.c.kind).where(
            subjects.c.subject_id.in_(chunk)
        )
        for hit in conn.execute(query):
            run.kinds[str(hit.subject_id)] = str(hit.kind)


def _existing(conn: Connection, rows: Sequence[RecordRow]) -> dict[tuple[str, str], RecordRow]:
    """Rows already in the ledger for the keys of ``rows``, in the same tuple form."""
    found: dict[tuple[str, str], RecordRow] = {}
    by_source: dict[str, set[str]] = {}
    for row in rows:
        by_source.setdefault(row[0], set()).add(row[1])
    cols = records.c
    for source, ids in sorted(by_source.items()):
        for chunk in chunked(sorted(ids)):
            query = select(
                cols.source,
                cols.record_id,
                cols.subject_id,
                cols.subject_kind,
                cols.code,
                cols.occurred_at,
                cols.case_id,
                cols.attrs,
                cols.evidence,
            ).where(cols.source == source, cols.record_id.in_(chunk))
            for hit in conn.execute(query):
                found[(hit.source, hit.record_id)] = tuple(hit)
    return found
