"""A helper process ends when the process that started it is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.durability import alive
from xinyong.service.lifeline import EXIT_CODE, POLL_SECONDS, follow_parent

CHILD = (
    "import time; from xinyong.service.lifeline import follow_parent; "
    "assert follow_parent() is not None; print('ready', flush=True); time.sleep(600)"
)
PARENT = (
    "import subprocess, sys, time; "
    f"child = subprocess.Popen([sys.executable, '-c', {CHILD!r}], stdout=subprocess.PIPE); "
    "child.stdout.readline(); print(child.pid, flush=True); time.sleep(600)"
)


def test_a_helper_exits_soon_after_its_parent_is_killed() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert alive(child)
        os.kill(parent.pid, signal.SIGKILL)
        killed = time.monotonic()
        while alive(child) and time.monotonic() - killed < 5:
            time.sleep(0.01)
        assert not alive(child), "the child outlived its parent by 5 s"
        assert time.monotonic() - killed < 2 * POLL_SECONDS + 0.5
    finally:
        parent.kill()
        parent.communicate()


def test_nothing_to_follow_when_the_given_parent_is_not_ours() -> None:
    assert follow_parent(os.getpid()) is None  # this process is not its own parent
    assert EXIT_CODE != 0
