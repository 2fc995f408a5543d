"""The gate between the appending thread and the thread that decides batches ahead."""

from __future__ import annotations

import threading

from xinyong.ingest.gate import Gate


def _waiting(gate: Gate, count: int) -> tuple[threading.Thread, list[bool]]:
    answers: list[bool] = []
    thread = threading.Thread(target=lambda: answers.append(gate.wait(count)))
    thread.start()
    return thread, answers


def test_a_wait_ends_once_the_batches_before_are_settled() -> None:
    gate = Gate()
    assert gate.wait(0)  # nothing before the first batch
    thread, answers = _waiting(gate, 2)
    gate.settle(1)
    thread.join(0.2)
    assert thread.is_alive()
    gate.settle(2)
    thread.join(5)
    assert answers == [True]


def test_settling_again_or_fewer_changes_nothing() -> None:
    gate = Gate()
    gate.settle(3)
    gate.settle(3)
    gate.settle(1)
    assert gate.wait(3)
    thread, answers = _waiting(gate, 4)
    thread.join(0.2)
    assert thread.is_alive()
    gate.close()
    thread.join(5)
    assert answers == [False]


def test_closing_releases_a_wait_now_and_later() -> None:
    with Gate() as gate:
        thread, answers = _waiting(gate, 1)
    thread.join(5)
    assert answers == [False]
    assert not gate.wait(0)  # closed: even a count already reached says stop
