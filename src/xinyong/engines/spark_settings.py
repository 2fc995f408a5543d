"""How to reach Spark, kept apart from :mod:`xinyong.engines.spark` so that reading settings
never imports PySpark (an optional extra)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEFAULT_JDBC_JAR", "SparkSettings", "jdbc_jar"]

DEFAULT_JDBC_JAR = Path("/usr/share/java/postgresql.jar")
"""Where Debian's ``libpostgresql-jdbc-java`` puts PostgreSQL's JDBC driver."""


@dataclass(frozen=True, slots=True)
class SparkSettings:
    """Where the Spark session runs, and extra settings for it.

    ``master`` is a Spark master URL (``local[4]``, ``spark://host:7077``, ``yarn``...); without
    one, ``SPARK_REMOTE`` (a Spark Connect URL, ``sc://host:15002``) is used when set, and
    ``local[N]`` with one thread per core otherwise. ``conf`` holds ``spark.*`` settings
    (``spark.driver.memory=8g``); they apply when the session starts.
    """

    master: str | None = None
    conf: tuple[tuple[str, str], ...] = ()

    def resolved(self) -> tuple[str | None, str | None]:
        """``(master, remote)``: exactly one of them is set."""
        if self.master:
            return self.master, None
        remote = os.environ.get("SPARK_REMOTE")
        if remote:
            return None, remote
        return f"local[{os.cpu_count() or 1}]", None


def jdbc_jar() -> Path | None:
    """PostgreSQL's JDBC driver jar (``XINYONG_SPARK_JDBC_JAR`` or Debian's), when present."""
    configured = os.environ.get("XINYONG_SPARK_JDBC_JAR")
    path = Path(configured) if configured else DEFAULT_JDBC_JAR
    return path if path.is_file() else None
