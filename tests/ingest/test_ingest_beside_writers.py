"""An ingest with another furnisher writing through the API at the same time, in real threads:
what it tells and stores is what the same writes give one after another, in the order they took
the write lock, with every batch decided under the lock (no batch decided ahead)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.support.postgres import new_pg_database
from xinyong.domain.catalog import load_catalog
from xinyong.domain.identifiers import synthetic_resident_id
from xinyong.ingest import apart as apart_module
from xinyong.ingest import records
from xinyong.ingest.files import ingest_records
from xinyong.ingest.records import IngestReport, ingest_rows
from xinyong.ledger.database import open_database

Row = tuple[str, str, str, str, str]
"""source, record_id, subject_id, kind, attrs."""
Post = tuple[str, list[Row]]
Outcome = tuple[object, ...]

SUBJECTS = [synthetic_resident_id(9, date(1980, 5, 6), 7), "ext:org-1", "ext:org-2"]
SOURCES = ["court", "bank"]
CATALOG = load_catalog()


def _row(rng: random.Random, source: str | None = None) -> Row:
    return (
        source or rng.choice(SOURCES),
        f"r{rng.randint(1, 12)}",  # keys repeat, within the file and with the other writer
        rng.choice(SUBJECTS),
        rng.choice(["person", "organization"]),  # a subject's kinds disagree
        rng.choice(['{"amount":1}', '{"amount":2}']),
    )


def _code(kind: str) -> str:
    return "court.defaulter" if kind == "person" else "tax.evasion"


def _csv(path: Path, rows: list[Row]) -> Path:
    lines = ["record_id,subject_id,subject_kind,code,occurred_at,source,attrs"]
    for source, record_id, subject_id, kind, attrs in rows:
        quoted = attrs.replace('"', '""')
        lines.append(
            f'{record_id},{subject_id},{kind},{_code(kind)},2024-01-02,{source},"{quoted}"'
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _told(report: IngestReport) -> Outcome:
    rejects = [(r.line, r.field, r.reason) for r in report.rejects]
    return (report.accepted, report.duplicates, report.conflicts, report.new_subjects, rejects)


def _post(engine: sa.Engine, post: Post) -> Outcome:
    source, rows = post
    submitted = [
        {
            "record_id": record_id,
            "subject_id": subject_id,
            "subject_kind": kind,
            "code": _code(kind),
            "occurred_at": "2024-01-02",
            "attrs": attrs,
        }
        for _, record_id, subject_id, kind, attrs in rows
    ]
    return _told(ingest_rows(engine, submitted, CATALOG, source=source))


def _stored(engine: sa.Engine) -> Outcome:
    with engine.connect() as conn:
        stored = conn.exec_driver_sql(
            "SELECT position, source, record_id, subject_id, subject_kind, attrs FROM records "
            "ORDER BY position"
        ).all()
        registered = conn.exec_driver_sql(
            "SELECT position, subject_id, kind FROM subjects ORDER BY position"
        ).all()
    return [tuple(r) for r in stored], [tuple(r) for r in registered]


def _beside(
    url: str, path: Path, posts: list[Post], batch: int, rng: random.Random
) -> tuple[Outcome, list[tuple[str, int]]]:
    """The ingest and the posts in two threads; the outcome and the order they took the lock
    in (("ingest", batch) or ("post", index)). On SQLite the ingest prepares its batches in a
    second process (the reference, :func:`_one_after_another`, runs in one)."""
    engine = open_database(url)
    apart = engine.dialect.name == "sqlite"
    order: list[tuple[str, int]] = []
    own = threading.local()
    batches = [0]
    head_size = records._head_size

    def counted(conn: sa.Connection) -> int:
        size = head_size(conn)  # read first thing under the write lock
        order.append(getattr(own, "tag", ("ingest", batches[0])))
        return size

    told: list[Outcome] = [()] * len(posts)

    def writer() -> None:
        for index, post in enumerate(posts):
            time.sleep(rng.random() * 0.004)
            own.tag = ("post", index)
            told[index] = _post(engine, post)

    def progress(_done: int, _total: int | None) -> None:
        batches[0] += 1
        time.sleep(rng.random() * 0.002)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(records, "_head_size", counted)
        # batches waiting join the one being written, up to this many: none, a few, all
        patch.setattr(apart_module, "_GROUP_BATCHES", rng.choice([1, 3, 100]))
        thread = threading.Thread(target=writer)
        thread.start()
        report = ingest_records(
            engine, path, CATALOG, batch_size=batch, progress=progress, apart=apart
        )
        thread.join()
    outcome = (_told(report), told, _stored(engine))
    engine.dispose()
    return outcome, order


def _one_after_another(
    url: str, path: Path, posts: list[Post], batch: int, order: list[tuple[str, int]]
) -> Outcome:
    """The same writes in ``order``, each batch decided under the write lock."""
    engine = open_database(url)
    before: dict[int, list[int]] = {}  # the posts that came before each batch of the ingest
    waiting: list[int] = []
    for what, index in order:
        if what == "post":
            waiting.append(index)
        else:
            before.setdefault(index, []).extend(waiting)
            waiting = []
    told: list[Outcome] = [()] * len(posts)
    batches = [0]

    def posts_before(index: int) -> None:
        for post in before.get(index, []):
            told[post] = _post(engine, posts[post])

    def progress(_done: int, _total: int | None) -> None:
        batches[0] += 1
        posts_before(batches[0])

    posts_before(0)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(records, "_decide_ahead", lambda *_: None)
        report = ingest_records(engine, path, CATALOG, batch_size=batch, progress=progress)
    unlocked = [i for i in range(len(posts)) if ("post", i) not in order]  # nothing valid
    for post in waiting + unlocked:
        told[post] = _post(engine, posts[post])
    outcome = (_told(report), told, _stored(engine))
    engine.dispose()
    return outcome


@contextmanager
def _sqlite_ledgers(tmp_path: Path) -> Iterator[tuple[str, str]]:
    yield f"sqlite:///{tmp_path / 'beside.db'}", f"sqlite:///{tmp_path / 'after.db'}"


@contextmanager
def _postgres_ledgers(_tmp_path: Path) -> Iterator[tuple[str, str]]:
    with new_pg_database() as beside, new_pg_database() as after:
        yield beside.render_as_string(False), after.render_as_string(False)


LEDGERS: dict[str, Callable[[Path], AbstractContextManager[tuple[str, str]]]] = {
    "sqlite": _sqlite_ledgers,
    "postgresql": _postgres_ledgers,
}


@pytest.mark.parametrize(
    ("backend", "seed"),
    [("sqlite", seed) for seed in range(12)]
    + [pytest.param("postgresql", seed, marks=pytest.mark.postgres) for seed in range(6)],
)
def test_an_ingest_beside_another_writer_is_as_if_they_took_turns(
    tmp_path: Path, backend: str, seed: int
) -> None:
    rng = random.Random(seed)
    rows = [_row(rng) for _ in range(rng.randint(5, 25))]
    posts: list[Post] = []
    for _ in range(rng.randint(1, 5)):
        source = rng.choice(SOURCES)
        posts.append((source, [_row(rng, source) for _ in range(rng.randint(1, 3))]))
    batch = rng.randint(1, 5)
    path = _csv(tmp_path / "file.csv", rows)
    with LEDGERS[backend](tmp_path) as (beside, after):
        outcome, order = _beside(beside, path, posts, batch, rng)
        assert outcome == _one_after_another(after, path, posts, batch, order), order
    stored: list[tuple[object, ...]]
    registered: list[tuple[object, ...]]
    stored, registered = outcome[2]  # type: ignore[misc]
    ids = [subject_id for _, subject_id, _ in registered]
    assert len(ids) == len(set(ids)), "a subject registered twice"
    kinds = {subject_id: kind for _, subject_id, kind in registered}
    assert all(kinds[row[3]] == row[4] for row in stored), "a record against its subject's kind"
