"""Running compiled schemes on Apache Spark (PySpark): ``local[N]`` here, a cluster in production.

The scheme is the same Ibis expression DuckDB and PostgreSQL run (:mod:`xinyong.schemes.compile`),
compiled to Spark SQL by :class:`~xinyong.engines.spark_sql.SchemeSparkCompiler` and executed by
the session; the standings come back to the driver as Arrow (``DataFrame.toArrow``). Inputs:

- Parquet files or directories (a partitioned ``xinyong export``), read by the executors;
- the PostgreSQL ledger's own tables over JDBC, split into ranges of ``position`` read in
  parallel, with the effective-records filter and the newest subject versions computed in
  Spark by the same expressions the PostgreSQL engine runs in place
  (:func:`~xinyong.ledger.effective.effective_records_expr`). JDBC needs PostgreSQL's driver jar
  on the session's class path (:func:`~xinyong.engines.spark_settings.jdbc_jar`);
- an Arrow table in the driver (a CSV or JSON Lines records file, a SQLite ledger).

The session is started once per process (``SparkSession.builder.getOrCreate``; a JVM costs
about 5 s to start) and reused by every later call.
"""

from __future__ import annotations

import gc
import os
import shutil
import sys
import uuid
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from sqlalchemy.engine import make_url

from xinyong.domain.catalog import Catalog
from xinyong.engines.backend import standings_expr
from xinyong.engines.spark_settings import SparkSettings, jdbc_jar
from xinyong.engines.spark_sql import SchemeSparkCompiler
from xinyong.ledger.effective import current_subjects_expr, effective_records_expr
from xinyong.schemes.compile import compile_scheme, compile_unbound
from xinyong.schemes.model import Scheme

__all__ = [
    "SparkEngine",
    "score_expr",
    "score_ledger_jdbc",
    "score_table",
    "spark_engine",
    "to_sql",
    "write_standings",
]


class UnreadableFiles(ValueError):
    """Files Spark cannot read (not Parquet, a damaged footer): the innermost cause it gives."""


def _java_cause(exc: Exception) -> str:
    """The innermost cause a JVM error names (its last ``Caused by:`` line; py4j's message
    carries the Java stack trace), else its first line."""
    lines = str(exc).splitlines()
    causes = [line.split("Caused by:", 1)[1].strip() for line in lines if "Caused by:" in line]
    if causes:
        return causes[-1]
    return lines[0] if lines else type(exc).__name__


def _session(settings: SparkSettings) -> Any:
    from pyspark.sql import SparkSession

    master, remote = settings.resolved()
    starts_jvm = remote is None or remote.startswith("local")
    if starts_jvm and not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        raise ValueError("the spark engine needs Java 17 or newer: install it or set JAVA_HOME")
    builder = SparkSession.builder.appName("xinyong")
    if remote is not None:
        builder = builder.remote(remote)
    else:
        assert master is not None
        builder = builder.master(master)
        if master.startswith("local"):
            # Spark binds to the machine's name otherwise, which may not resolve.
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        # The compiled queries need no Python workers (no Python UDFs); any that PySpark does
        # start must use this interpreter and its packages, not the first python3 on PATH.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        defaults = {
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            # Dates are dates; no conversion through the machine's time zone.
            "spark.sql.session.timeZone": "UTC",
        }
        jar = jdbc_jar()
        if jar is not None:
            defaults["spark.jars"] = str(jar)
        if master.startswith("local"):
            # The default 200 shuffle partitions cost more than they share out on one machine;
            # adaptive execution still coalesces and splits them by size.
            defaults["spark.sql.shuffle.partitions"] = str(4 * (os.cpu_count() or 1))
            # In local mode the driver is the executor and receives the standings too: its
            # default 1 GiB heap and 1 GiB result limit fail on a few million subjects.
            defaults["spark.driver.memory"] = _quarter_of_memory()
            defaults["spark.driver.maxResultSize"] = "0"
        for key, value in defaults.items():
            builder = builder.config(key, value)
    for key, value in settings.conf:
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    if remote is None:
        session.sparkContext.setLogLevel("ERROR")
    return session


def _quarter_of_memory() -> str:
    total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return f"{max(total // 4 // 2**20, 1024)}m"


class SparkEngine:
    """A Spark session with an Ibis backend whose SQL keeps xinyong's semantics (a
    :class:`~xinyong.engines.backend.Backend`)."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.backend = ibis.pyspark.connect(session)
        self.backend.compiler = SchemeSparkCompiler()
        self._views: list[str] = []

    def sql(self, expr: ir.Table) -> str:
        """The Spark SQL of an expression over this session's tables."""
        return str(self.backend.compile(expr))

    def to_arrow(self, expr: ir.Table) -> pa.Table:
        """Run an expression and bring the result to the driver as Arrow."""
        frame = self.session.sql(self.sql(expr))
        with warnings.catch_warnings():
            # PySpark 4.0's toArrow leaves the socket it read the batches from to the garbage
            # collector, which warns about it; the data is complete by then.
            warnings.simplefilter("ignore", ResourceWarning)
            result: pa.Table = frame.toArrow()
            gc.collect()
        return result

    def write_parquet(self, expr: ir.Table, directory: Path) -> None:
        """Run an expression and have the executors write it as Parquet files in ``directory``
        (replaced): nothing is collected to the driver."""
        self.session.sql(self.sql(expr)).write.mode("overwrite").parquet(str(directory))

    def _register(self, frame: Any) -> ir.Table:
        name = f"xinyong_{uuid.uuid4().hex}"
        frame.createOrReplaceTempView(name)
        self._views.append(name)
        return self.backend.table(name)

    def from_arrow(self, table: pa.Table) -> ir.Table:
        """An Arrow table of the driver as a Spark table."""
        return self._register(self.session.createDataFrame(table))

    def read_parquet(self, paths: Sequence[Path]) -> ir.Table:
        """Parquet files, read by the executors (the paths must be visible to them);
        :class:`UnreadableFiles` when Spark cannot read their footers."""
        try:
            frame = self.session.read.parquet(*(str(p) for p in paths))
        except Exception as exc:  # the JVM's error, wrapped by py4j or by Spark Connect
            raise UnreadableFiles(_java_cause(exc)) from exc
        return self._register(frame)

    def read_jdbc(self, url: str, table: str, partitions: int, upper: int) -> ir.Table:
        """A PostgreSQL table over JDBC, split into ``partitions`` ranges of ``position``."""
        parsed = make_url(url)
        reader = (
            self.session.read.format("jdbc")
            .option(
                "url",
                f"jdbc:postgresql://{parsed.host or '127.0.0.1'}:{parsed.port or 5432}/"
                f"{parsed.database}",
            )
            .option("driver", "org.postgresql.Driver")
            .option("dbtable", table)
            .option("fetchsize", "10000")
            .option("partitionColumn", "position")
            .option("lowerBound", "0")
            .option("upperBound", str(max(upper, 1)))
            .option("numPartitions", str(max(partitions, 1)))
        )
        if parsed.username:
            reader = reader.option("user", parsed.username)
        if parsed.password:
            reader = reader.option("password", parsed.password)
        return self._register(reader.load())

    @contextmanager
    def views(self) -> Iterator[SparkEngine]:
        """Drop the temporary views registered inside the block when it ends."""
        start = len(self._views)
        try:
            yield self
        finally:
            for name in self._views[start:]:
                self.session.catalog.dropTempView(name)
            del self._views[start:]

    def parallelism(self) -> int:
        """How many tasks the session runs at once (for splitting JDBC reads)."""
        try:
            return int(self.session.sparkContext.defaultParallelism)
        except Exception:  # Spark Connect sessions have no SparkContext in the client
            return 4


def to_sql(scheme: Scheme, as_of: date) -> str:
    """The Spark SQL of a scheme over unbound tables (no session needed)."""
    _ = ibis.pyspark  # registers the backend's options, which the compiler reads
    compiler = SchemeSparkCompiler()
    return str(compiler.to_sqlglot(compile_unbound(scheme, as_of)).sql(dialect=compiler.dialect))


_STARTED: list[SparkEngine] = []  # at most one: a process has one SparkSession


def spark_engine(settings: SparkSettings | None = None) -> SparkEngine:
    """This process's Spark engine, started on first use (later settings are ignored)."""
    if not _STARTED:
        _STARTED.append(SparkEngine(_session(settings or SparkSettings())))
    return _STARTED[0]


def score_expr(
    engine: SparkEngine,
    scheme: Scheme,
    records: ir.Table,
    as_of: date,
    subjects: ir.Table | None = None,
) -> pa.Table:
    """Standings of ``scheme`` over Spark tables of records (and subjects in ledger mode).

    A scheme with ``[peer]`` brings only the rating records to the driver, where the rating
    graph is iterated in NumPy; the peer scores go back as a small table.
    """
    standings = standings_expr(engine, scheme, records, as_of, subjects, ordered=False)
    return engine.to_arrow(standings).sort_by("subject_id")


def write_standings(
    engine: SparkEngine,
    scheme: Scheme,
    records: ir.Table,
    as_of: date,
    directory: Path,
    subjects: ir.Table | None = None,
) -> None:
    """Standings of a scheme without ``[peer]``, written by the executors to ``directory``.

    For populations whose standings do not fit in the driver: the files hold the same rows as
    :func:`score_expr` returns, not sorted.
    """
    if scheme.peer is not None:
        raise ValueError(f"scheme {scheme.id}: a [peer] scheme is scored through the driver")
    engine.write_parquet(compile_scheme(scheme, records, as_of, subjects, ordered=False), directory)


def score_table(
    engine: SparkEngine,
    scheme: Scheme,
    records: pa.Table,
    as_of: date,
    subjects: pa.Table | None = None,
) -> pa.Table:
    """Standings of ``scheme`` over Arrow tables, as :func:`xinyong.engines.duckdb.score_table`."""
    with engine.views():
        subject_table = engine.from_arrow(subjects) if subjects is not None else None
        return score_expr(engine, scheme, engine.from_arrow(records), as_of, subject_table)


def score_ledger_jdbc(
    engine: SparkEngine,
    url: str,
    scheme: Scheme,
    as_of: date,
    known_at: int,
    catalog: Catalog | None,
) -> pa.Table:
    """Standings over the PostgreSQL ledger read by Spark over JDBC, as known at ``known_at``."""
    partitions = engine.parallelism()
    with engine.views():
        records = engine.read_jdbc(url, "records", partitions, known_at)
        events = engine.read_jdbc(url, "events", 1, known_at)
        subjects = engine.read_jdbc(url, "subjects", partitions, known_at)
        effective = effective_records_expr(records, events, as_of, known_at, catalog)
        current = current_subjects_expr(subjects, known_at)
        return score_expr(engine, scheme, effective, as_of, current)
