"""The spill file: checks logged while the inquiry log's file cannot be written.

Every few seconds the inquiry log's write-ahead log is checkpointed, and for the last step the
log's writes must pause (:meth:`xinyong.application.inquiry_log.InquiryLog._checkpoint`). That step
syncs the disk twice; with records being appended meanwhile it took up to 60 ms here, and every
check waiting for its log entry waited that long. Instead, during the pause each batch of checks
is appended to a plain file beside the log (one JSON line per decision, one ``write`` per batch)
and answered; once the pause is over the batch is committed to the log like any other and the
file emptied. A check is therefore always in the log before its answer leaves: in the table, or
in this file until it reaches the table.

Each service process keeps its own file (``<ledger>-inquiries.<pid>.spill``, created exclusively:
a file of that name left by a dead process whose pid was reused gets another name) and holds an
exclusive ``flock`` on it for its lifetime. A file left by a process that died before its batch
reached the table is imported by the next process to open the ledger (:func:`recover_spills`);
decisions already in the table are skipped, so importing twice adds nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path

import orjson
from sqlalchemy import Engine, select

from xinyong.decisions.checks import Decision, log_decisions
from xinyong.ledger.database import INQUIRY_SCHEMA, take_write_lock
from xinyong.ledger.schema import inquiries

__all__ = ["SpillFile", "recover_spill", "recover_spills", "spill_path"]

log = logging.getLogger("xinyong.inquiries")

_Entry = tuple[Decision, dict[str, object] | None]


def spill_path(log_file: Path, pid: int, attempt: int = 0) -> Path:
    """The spill file of process ``pid`` beside the inquiry log file ``log_file`` (``attempt``:
    the how-manieth name tried, when an earlier one was taken)."""
    suffix = f"{pid}" if attempt == 0 else f"{pid}-{attempt}"
    return log_file.with_name(f"{log_file.stem}.{suffix}.spill")


def _encode(entries: Iterable[_Entry]) -> bytes:
    lines = []
    for decision, notice in entries:
        row = {
            "decision_id": decision.decision_id,
            "relying_party": decision.relying_party,
            "subject_id": decision.subject_id,
            "measure": decision.measure,
            "applies": decision.applies,
            "scheme_id": decision.scheme_id,
            "version": decision.version,
            "as_of": decision.as_of.isoformat(),
            "known_at": decision.known_at,
            "made_at": decision.made_at,
            "notice": notice,
        }
        lines.append(orjson.dumps(row) + b"\n")
    return b"".join(lines)


def _decode(data: bytes, path: Path) -> list[_Entry]:
    entries: list[_Entry] = []
    for number, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = orjson.loads(line)
            notice = row.pop("notice")
            row["as_of"] = date.fromisoformat(row["as_of"])
            entries.append((Decision(**row), notice))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            # A line cut short by a crash in the middle of a write: the rest still counts.
            log.error("%s line %d: not a logged decision (%s); skipped", path, number, exc)
    return entries


class SpillFile:
    """This process's spill file, opened and locked on first use."""

    def __init__(self, log_file: Path, pid: int) -> None:
        self.log_file, self.pid = log_file, pid
        self.path = spill_path(log_file, pid)
        self._fd: int | None = None

    def _create(self) -> int:
        """Create this process's file, never opening one that exists: a dead process with the
        same pid may have left checks in it that are not yet imported."""
        for attempt in range(1000):
            path = spill_path(self.log_file, self.pid, attempt)
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
            except FileExistsError:
                continue
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # new: nobody else holds it
            self.path = path
            return fd
        raise OSError(f"{self.path}: 1,000 spill files of this pid already exist")

    def write(self, entries: Sequence[_Entry]) -> None:
        """Append decisions (one ``write``: the kernel has them before any answer leaves)."""
        if self._fd is None:
            self._fd = self._create()
        data = _encode(entries)
        written = os.write(self._fd, data)
        if written != len(data):
            raise OSError(f"{self.path}: short write ({written} of {len(data)} bytes)")

    def keep_only(self, entries: Sequence[_Entry]) -> None:
        """Empty the file but for ``entries`` (the ones the log's table did not take)."""
        if self._fd is None:
            return
        os.ftruncate(self._fd, 0)
        if entries:
            self.write(entries)

    def close(self) -> None:
        """Remove the file if it is empty, and release it."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            if os.fstat(self._fd).st_size == 0:
                self.path.unlink()
        os.close(self._fd)
        self._fd = None


def recover_spills(engine: Engine, log_file: Path) -> int:
    """Import the spill files that dead processes left beside ``log_file``; return how many
    decisions were added to the log (those already in it are skipped)."""
    added = 0
    for path in sorted(log_file.parent.glob(f"{log_file.stem}.*.spill")):
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            continue
        try:
            added += recover_spill(engine, path, fd)
        finally:
            os.close(fd)
    return added


def recover_spill(engine: Engine, path: Path, fd: int) -> int:
    """Import one spill file, open as ``fd``, unless its process lives or another process has
    imported it since it was opened (several workers start at once)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return 0  # its process is alive and will commit it
    if os.fstat(fd).st_nlink == 0:
        return 0  # imported and removed meanwhile
    try:
        added = _import(engine, _decode(_read_all(fd), path))
    except Exception:  # keep it for a person to look at; the service still starts
        log.exception("%s: could not import the checks in it; left in place", path)
        return 0
    path.unlink()
    return added


def _read_all(fd: int) -> bytes:
    """The whole file, read through the descriptor holding its lock (not by its name)."""
    chunks, offset = [], 0
    while chunk := os.pread(fd, 1 << 20, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _import(engine: Engine, entries: list[_Entry]) -> int:
    if not entries:
        return 0
    with engine.connect() as conn, conn.begin():
        take_write_lock(conn, INQUIRY_SCHEMA)
        ids = [decision.decision_id for decision, _ in entries]
        present = set(
            conn.scalars(select(inquiries.c.decision_id).where(inquiries.c.decision_id.in_(ids)))
        )
        # A decision's notice was committed with it: both are in, or neither.
        missing = [(d, n) for d, n in entries if d.decision_id not in present]
        log_decisions(conn, missing)
    if missing:
        log.warning("recovered %d checks from a spill file", len(missing))
    return len(missing)
