"""A scheme compiled to DuckDB SQL once per scheme version, then bound to any as-of date.

Compiling a scheme (the Ibis expression of :mod:`xinyong.schemes.compile`, then its SQL) costs
more than DuckDB needs to score a city's records, and the result depends only on the scheme,
the compiler and the libraries that write the SQL, never on the records. So the SQL is compiled
at a sentinel date and kept, in this process and in a cache directory shared by processes, under
a key made of the scheme's full canonical JSON, the scoring mode and a fingerprint of the
compiler (the source of every module of this package, the versions of Ibis and sqlglot this
process loaded, or, before it loads them, those installed; SQL compiled after an upgrade of
either between the two is not kept). A changed scheme, a changed compiler or a new library
version is a new key.
A process whose package files changed after it started (an upgrade in place) may be running
other code than the files it hashes: it neither reads nor writes the cache directory.

Binding replaces the sentinel's literal with the as-of date's literal, written as Ibis writes
it, so the bound SQL is the text a fresh compile at that date gives (a property test holds the
two equal). The sentinel must occur in the compiled SQL (every scheme reads the date), or
compiling is an error. No other text can be mistaken for it: a scheme holds no date of its own,
and one whose text mentions ``MAKE_DATE`` anywhere (or the sentinel date itself) is compiled at
the date asked, every time.

Cache entries are written to a temporary file and renamed into place, and each holds its key
and the SHA-256 of its SQL: an entry that does not match (a torn, edited or misplaced file) is
compiled again and replaced. ``$XINYONG_CACHE_DIR`` names the directory (default:
``$XDG_CACHE_HOME/xinyong``, or ``~/.cache/xinyong``); ``XINYONG_CACHE_DIR=off`` keeps the cache
in the process only. A directory that cannot be written is not an error: the SQL is then kept
in the process only.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import time
from datetime import date
from functools import cache
from importlib import metadata
from pathlib import Path

import orjson

from xinyong.schemes.model import Scheme

__all__ = [
    "PEER_TABLE",
    "RECORDS_TABLE",
    "SUBJECTS_TABLE",
    "cache_directory",
    "compile_template",
    "forget_compiled",
    "scheme_sql",
]

RECORDS_TABLE = "xinyong_records"
SUBJECTS_TABLE = "xinyong_subjects"
PEER_TABLE = "xinyong_peer_scores"

_SENTINEL = date(2999, 12, 30)
_FORMAT = 2  # of a cache entry; part of the key


def _date_sql(day: date) -> str:
    """A date literal as Ibis writes it for DuckDB."""
    return f"MAKE_DATE({day.year}, {day.month}, {day.day})"


def cache_directory() -> Path | None:
    """Where compiled SQL is kept between processes; None when the cache is off."""
    configured = os.environ.get("XINYONG_CACHE_DIR")
    if configured is not None:
        return None if configured.strip().lower() in ("", "off", "0", "none") else Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "xinyong"


def _process_started() -> float:
    """When this process started (seconds since the epoch, rounded down to the second the
    machine booted in): from ``/proc`` on Linux, else when this module was imported."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[19])
        boot = next(
            int(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return _IMPORTED


_IMPORTED = time.time()


def _sources() -> list[Path]:
    root = Path(__file__).resolve().parents[1]
    return sorted(root.rglob("*.py"))


@cache
def _sources_digest() -> str:
    """The source of every module of the package, hashed."""
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parents[1]
    for path in _sources():
        digest.update(str(path.relative_to(root)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def _writers() -> str:
    """The versions of Ibis and sqlglot: those loaded, or, before they are (a cached scheme
    never loads them), those installed, which are what would be loaded."""
    versions = []
    for module, distribution in (("ibis", "ibis-framework"), ("sqlglot", "sqlglot")):
        loaded = sys.modules.get(module)
        version = getattr(loaded, "__version__", None) if loaded is not None else None
        if version is None:
            try:
                version = metadata.version(distribution)
            except metadata.PackageNotFoundError:
                version = "unknown"
        versions.append(f"{module} {version}")
    return "\0".join(versions)


def _changed_since_start() -> bool:
    """Whether a source file of the package changed after this process started (an upgrade in
    place): the code this process runs may then not be the code its fingerprint hashes, so it
    neither reads nor writes the cache directory."""
    started = _process_started()
    try:
        return any(path.stat().st_mtime >= started for path in _sources())
    except OSError:
        return True


def _key(canonical: bytes, ledger: bool) -> str:
    digest = hashlib.sha256()
    for part in (f"format {_FORMAT}", f"ledger {ledger}", _sources_digest(), _writers()):
        digest.update(part.encode())
        digest.update(b"\0")
    digest.update(canonical)
    return digest.hexdigest()


def compile_template(scheme: Scheme, ledger: bool, as_of: date = _SENTINEL) -> str:
    """The scheme's DuckDB SQL as of ``as_of`` (by default the sentinel date), compiled now:
    the reference path.

    It reads :data:`RECORDS_TABLE` (``RECORDS_SCHEMA``'s scoring columns), in ledger mode
    :data:`SUBJECTS_TABLE` (``subject_id, kind``: every registered subject is scored), and for a
    scheme with ``[peer]`` :data:`PEER_TABLE` (``subject_id, peer_score``).
    """
    # Imported here: Ibis costs half a second to import, and a cached scheme needs none of it.
    import ibis

    from xinyong.schemes.compile import compile_unbound

    expr = compile_unbound(
        scheme,
        as_of,
        records=RECORDS_TABLE,
        subjects=SUBJECTS_TABLE if ledger else None,
        peer=PEER_TABLE,
    )
    # Not pretty: the pretty printer breaks lines by their length, which the date's literal
    # changes, and the bound SQL must be the text a compile at that date gives.
    sql = str(ibis.to_sql(expr, dialect="duckdb", pretty=False))
    if _date_sql(as_of) not in sql:
        raise ValueError(f"scheme {scheme.id}: the as-of date is not in its compiled SQL")
    return sql


_TEMPLATES: dict[str, str] = {}


def _read_entry(path: Path, key: str) -> str | None:
    try:
        entry = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    if not isinstance(entry, dict) or entry.get("key") != key:
        return None
    sql = entry.get("sql")
    if not isinstance(sql, str):
        return None
    if entry.get("sha256") != hashlib.sha256(sql.encode()).hexdigest():
        return None
    return sql


def _entry_bytes(key: str, sql: str) -> bytes:
    return orjson.dumps(
        {"key": key, "sql": sql, "sha256": hashlib.sha256(sql.encode()).hexdigest()}
    )


def _write_entry(path: Path, key: str, sql: str) -> None:
    """Write the entry to a temporary file beside ``path``, then rename it into place."""
    temporary: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".tmp-", delete=False) as file:
            temporary = Path(file.name)
            file.write(_entry_bytes(key, sql))
        temporary.chmod(0o644)  # readable by every user of a shared cache, as a fresh file is
        temporary.replace(path)
    except OSError:
        if temporary is not None:
            temporary.unlink(missing_ok=True)


def forget_compiled() -> None:
    """Forget the SQL kept in this process (the cache directory is left as it is)."""
    _TEMPLATES.clear()


def _template(canonical: bytes, scheme: Scheme, ledger: bool) -> str:
    key = _key(canonical, ledger)
    known = _TEMPLATES.get(key)
    if known is not None:
        return known
    directory = cache_directory()
    path = None
    if directory is not None and not _changed_since_start():
        path = directory / "compiled" / f"{key}.json"
    sql = _read_entry(path, key) if path is not None else None
    if sql is None:
        sql = compile_template(scheme, ledger)
        if _key(canonical, ledger) != key:
            # The writers loaded to compile are not the versions installed when the key was
            # made (upgraded in between): this SQL is not that key's.
            return sql
        if path is not None and not _changed_since_start():
            _write_entry(path, key, sql)
    _TEMPLATES[key] = sql
    return sql


def scheme_sql(scheme: Scheme, as_of: date, *, ledger: bool) -> str:
    """The scheme's DuckDB SQL as of ``as_of``: the text :func:`compile_template` gives at that
    date, from the cache when this scheme was compiled before by the same compiler."""
    if not isinstance(as_of, date):
        raise TypeError(f"as_of: a date, not {type(as_of).__name__}")
    canonical = orjson.dumps(scheme.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    if as_of == _SENTINEL or b"make_date" in canonical.lower():
        # The sentinel's text could not be told from the date (or from the scheme's own text):
        # compiled at the date itself, not kept.
        return compile_template(scheme, ledger, as_of)
    template = _template(canonical, scheme, ledger)
    return template.replace(_date_sql(_SENTINEL), _date_sql(as_of))
