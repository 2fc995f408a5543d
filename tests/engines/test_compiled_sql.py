"""The compiled-SQL cache gives exactly the SQL a fresh compile gives, and keeps nothing stale."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import xinyong.pilots
from tests.support.peer_strategies import sections
from tests.support.strategies import schemes
from xinyong.engines import compiled_sql
from xinyong.engines.compiled_sql import compile_template, scheme_sql
from xinyong.schemes.load import load_scheme
from xinyong.schemes.model import Scheme

PILOTS = sorted(Path(xinyong.pilots.__file__).parent.glob("*.toml"))

any_date = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31))


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache directory of the test's own, and an empty in-process cache."""
    monkeypatch.setenv("XINYONG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(compiled_sql, "_TEMPLATES", {})
    return tmp_path / "cache"


def _forget_process_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """As a new process starts: nothing compiled in memory."""
    monkeypatch.setattr(compiled_sql, "_TEMPLATES", {})


def _no_compiling(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> str:
        raise AssertionError("compiled although the cache holds the scheme")

    monkeypatch.setattr(compiled_sql, "compile_template", refuse)


def _entries(directory: Path) -> list[Path]:
    return sorted((directory / "compiled").glob("*.json"))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scheme=st.one_of(schemes(), schemes(attributed=True)),
    as_of=any_date,
    ledger=st.booleans(),
)
def test_bound_sql_is_what_a_fresh_compile_at_that_date_gives(
    scheme: dict[str, Any], as_of: date, ledger: bool
) -> None:
    model = Scheme.model_validate(scheme)
    if as_of == date(2999, 12, 30):
        as_of = date(2999, 12, 29)
    assert scheme_sql(model, as_of, ledger=ledger) == compile_template(model, ledger, as_of)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scheme=schemes(), section=sections(), as_of=any_date)
def test_a_peer_scheme_binds_the_same_way(
    scheme: dict[str, Any], section: Any, as_of: date
) -> None:
    model = Scheme.model_validate({**scheme, "peer": section.model_dump(mode="json")})
    if as_of == date(2999, 12, 30):
        as_of = date(2999, 12, 29)
    assert scheme_sql(model, as_of, ledger=True) == compile_template(model, True, as_of)


@pytest.mark.parametrize("path", PILOTS, ids=lambda p: p.stem)
def test_every_pilot_binds_to_a_fresh_compile(path: Path, cache_dir: Path) -> None:
    """Dates whose literals differ in length, a leap day and the ends of the range (the pretty
    printer once broke lines where a longer date did not fit: nosedive-gate at 0001-01-01)."""
    model = load_scheme(path).scheme
    days = [date(1, 1, 1), date(4, 2, 29), date(2026, 10, 31), date(3000, 1, 1)]
    for ledger in (False, True):
        for day in [*days, date(9999, 12, 31)]:
            assert scheme_sql(model, day, ledger=ledger) == compile_template(model, ledger, day)


def test_a_second_process_reads_the_entry_and_compiles_nothing(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = load_scheme(PILOTS[0]).scheme
    first = scheme_sql(model, date(2026, 1, 5), ledger=False)
    assert len(_entries(cache_dir)) == 1
    _forget_process_cache(monkeypatch)
    _no_compiling(monkeypatch)
    assert scheme_sql(model, date(2026, 1, 5), ledger=False) == first


def test_the_mode_and_every_scheme_change_make_a_new_entry(cache_dir: Path) -> None:
    model = load_scheme(PILOTS[0]).scheme
    scheme_sql(model, date(2026, 1, 5), ledger=False)
    scheme_sql(model, date(2026, 1, 5), ledger=True)
    changed = model.model_copy(update={"base": model.base + 1})
    scheme_sql(changed, date(2026, 1, 5), ledger=False)
    assert len(_entries(cache_dir)) == 3


@pytest.mark.parametrize(
    "damage",
    [
        b"",
        b"{not json",
        b"[]",
        b'{"sql": 1}',
        b'{"sql": "SELECT 1", "sha256": "00"}',
        b"misplaced",
    ],
    ids=["empty", "torn", "not-an-object", "no-text", "edited", "misplaced"],
)
def test_a_damaged_entry_is_compiled_again_and_replaced(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch, damage: bytes
) -> None:
    model = load_scheme(PILOTS[0]).scheme
    want = scheme_sql(model, date(2026, 1, 5), ledger=False)
    [entry] = _entries(cache_dir)
    good = entry.read_bytes()
    if damage == b"misplaced":  # a valid entry of another key, under this key's name
        sql = "SELECT MAKE_DATE(2999, 12, 30) AS d"
        damage = compiled_sql._entry_bytes("0" * 64, sql)
    entry.write_bytes(damage)
    _forget_process_cache(monkeypatch)
    assert scheme_sql(model, date(2026, 1, 5), ledger=False) == want
    assert entry.read_bytes() == good


def test_an_edited_entry_with_its_hash_updated_is_used_as_written(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hash catches torn and careless edits, not a deliberate one: whoever can write the
    cache directory can change the SQL, as whoever can write the package can change the code.
    Documented, and pinned here so that nobody believes otherwise."""
    model = load_scheme(PILOTS[0]).scheme
    scheme_sql(model, date(2026, 1, 5), ledger=False)
    [entry] = _entries(cache_dir)
    sql = "SELECT 1 AS x, MAKE_DATE(2999, 12, 30) AS d"
    entry.write_bytes(compiled_sql._entry_bytes(entry.stem, sql))
    _forget_process_cache(monkeypatch)
    assert scheme_sql(model, date(2026, 1, 5), ledger=False) == sql.replace(
        "MAKE_DATE(2999, 12, 30)", "MAKE_DATE(2026, 1, 5)"
    )


def test_an_unwritable_directory_keeps_the_sql_in_the_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("XINYONG_CACHE_DIR", str(blocker))
    _forget_process_cache(monkeypatch)
    model = load_scheme(PILOTS[0]).scheme
    assert scheme_sql(model, date(2026, 1, 5), ledger=False) == compile_template(
        model, False, date(2026, 1, 5)
    )
    _no_compiling(monkeypatch)
    assert scheme_sql(model, date(2026, 1, 6), ledger=False)


def test_off_keeps_nothing_on_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XINYONG_CACHE_DIR", "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(compiled_sql, "_TEMPLATES", {})
    assert compiled_sql.cache_directory() is None
    scheme_sql(load_scheme(PILOTS[0]).scheme, date(2026, 1, 5), ledger=False)
    assert not any(tmp_path.iterdir())


def test_the_default_directory_follows_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XINYONG_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert compiled_sql.cache_directory() == tmp_path / "xinyong"


def test_the_sentinel_date_and_a_scheme_naming_make_date_are_compiled_at_the_date(
    cache_dir: Path,
) -> None:
    model = load_scheme(PILOTS[0]).scheme
    assert scheme_sql(model, date(2999, 12, 30), ledger=True) == compile_template(
        model, True, date(2999, 12, 30)
    )
    named = model.model_copy(update={"name": "MAKE_DATE(2999, 12, 30)"})
    assert scheme_sql(named, date(2026, 1, 5), ledger=True) == compile_template(
        named, True, date(2026, 1, 5)
    )
    assert _entries(cache_dir) == []


def test_a_package_changed_since_the_process_started_keeps_to_the_process(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After an upgrade in place, a running process may run other code than its fingerprint
    hashes: it neither writes what it compiles nor reads what another process wrote."""
    model = load_scheme(PILOTS[0]).scheme
    monkeypatch.setattr(compiled_sql, "_process_started", lambda: 0.0)
    scheme_sql(model, date(2026, 1, 5), ledger=False)
    assert _entries(cache_dir) == []
    monkeypatch.undo()
    monkeypatch.setenv("XINYONG_CACHE_DIR", str(cache_dir))
    _forget_process_cache(monkeypatch)
    want = scheme_sql(model, date(2026, 1, 5), ledger=False)
    [entry] = _entries(cache_dir)
    entry.write_bytes(compiled_sql._entry_bytes(entry.stem, "SELECT MAKE_DATE(2999, 12, 30)"))
    _forget_process_cache(monkeypatch)
    monkeypatch.setattr(compiled_sql, "_process_started", lambda: 0.0)
    assert scheme_sql(model, date(2026, 1, 5), ledger=False) == want


def test_the_process_start_is_read_from_proc() -> None:
    import time

    started = compiled_sql._process_started()
    assert started <= time.time()
    assert time.time() - started < 24 * 3600
    assert not compiled_sql._changed_since_start()


def test_a_failed_write_leaves_no_temporary_file(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: Path, target: Path) -> Path:
        raise OSError("disk full")

    monkeypatch.setattr(Path, "replace", refuse)
    model = load_scheme(PILOTS[0]).scheme
    assert scheme_sql(model, date(2026, 1, 5), ledger=False)
    assert list((cache_dir / "compiled").iterdir()) == []


def test_a_date_is_required() -> None:
    model = load_scheme(PILOTS[0]).scheme
    with pytest.raises(TypeError, match="a date"):
        scheme_sql(model, "2026-01-05", ledger=False)  # type: ignore[arg-type]
