"""The garbage collector's settings during a load, and after it."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from xinyong.ingest.collector import YOUNG, fewer_collections


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    """Whatever a test does, the process's collector is as it was afterwards."""
    thresholds = gc.get_threshold()
    yield
    gc.set_threshold(*thresholds)


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def test_a_load_collects_less_often_and_restores_the_settings() -> None:
    gc.set_threshold(700, 10, 10)
    with fewer_collections():
        assert gc.get_threshold() == (YOUNG, 10, 10)
    assert gc.get_threshold() == (700, 10, 10)


def test_loads_at_once_share_the_setting_until_the_last_ends() -> None:
    gc.set_threshold(700, 10, 10)
    first, second = fewer_collections(), fewer_collections()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert gc.get_threshold()[0] == YOUNG
    second.__exit__(None, None, None)
    assert gc.get_threshold() == (700, 10, 10)


def test_collection_turned_off_stays_off() -> None:
    gc.set_threshold(0, 10, 10)
    with fewer_collections():
        assert gc.get_threshold()[0] == 0
    assert gc.get_threshold() == (0, 10, 10)


def test_a_reference_cycle_that_becomes_garbage_during_a_load_is_collected() -> None:
    gc.set_threshold(700, 10, 10)
    with fewer_collections():
        left, right = _Node(), _Node()
        left.other, right.other = right, left
        gone = weakref.ref(left)
        del left, right
        assert gone() is not None  # a cycle: reference counts alone do not free it
        kept = [[] for _ in range(2 * YOUNG)]  # a batch's worth of live containers
        assert gone() is None
        del kept


def test_what_someone_else_sets_during_a_load_is_left_as_they_set_it() -> None:
    gc.set_threshold(700, 10, 10)
    with fewer_collections():
        gc.set_threshold(5_000, 10, 10)  # another component's own setting
    assert gc.get_threshold() == (5_000, 10, 10)


def test_an_interruption_while_the_settings_change_leaves_them_as_they_were(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gc.set_threshold(700, 10, 10)
    calls: list[tuple[int, ...]] = []
    real = gc.set_threshold

    def interrupted(*values: int) -> None:  # the change is made, then a Ctrl-C arrives
        real(*values)
        calls.append(values)
        if len(calls) == 1:
            raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(gc, "set_threshold", interrupted)
        with pytest.raises(KeyboardInterrupt), fewer_collections():
            pass
    assert gc.get_threshold() == (700, 10, 10)
    with fewer_collections():  # and the next load starts from them
        assert gc.get_threshold() == (YOUNG, 10, 10)
    assert gc.get_threshold() == (700, 10, 10)
