"""A helper process ends when the process that started it is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.support.durability import alive
from xinyong.application.lifeline import EXIT_CODE, POLL_SECONDS, helper_command

CHILD = (
    "import time; from xinyong.application.lifeline import follow_parent; "
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


def test_a_helper_whose_parent_died_while_it_started_exits_at_once() -> None:
    # pid 1 is not this child's parent: as if the parent had died before the helper began
    code = "from xinyong.application.lifeline import run_helper; run_helper(1, 'time:sleep', 600)"
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, timeout=60
    )
    assert done.returncode == EXIT_CODE
    assert time.monotonic() - started < 30  # not the 600 s sleep


def test_a_helper_runs_its_target_while_its_parent_lives() -> None:
    code = (
        "import os; from xinyong.application.lifeline import run_helper; "
        "run_helper(os.getppid(), 'builtins:print', 'ran', POLL_SECONDS)"
    ).replace("POLL_SECONDS", repr(POLL_SECONDS))
    done = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout.strip()) == (0, f"ran {POLL_SECONDS}")


def test_a_helper_command_runs_the_module_as_python_m_does() -> None:
    done = subprocess.run(
        helper_command("calendar", "2026", "1"),
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "January 2026" in done.stdout


HELPER_PARENT = (
    "import subprocess, sys, time; from xinyong.application.lifeline import helper_command; "
    "child = subprocess.Popen(helper_command('json.tool'), stdin=subprocess.PIPE); "
    "print(child.pid, flush=True); time.sleep(600)"
)


def test_a_helper_command_follows_its_parent_whatever_the_module_does() -> None:
    # json.tool waits for its input and knows nothing of parents: the helper follows the parent
    # from before the module runs (xinyong serve's background worker spends seconds importing).
    parent = subprocess.Popen(
        [sys.executable, "-c", HELPER_PARENT], stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        time.sleep(0.5)
        assert alive(child)
        os.kill(parent.pid, signal.SIGKILL)
        killed = time.monotonic()
        while alive(child) and time.monotonic() - killed < 5:
            time.sleep(0.01)
        assert not alive(child), "the helper outlived its parent by 5 s"
    finally:
        parent.kill()
        parent.communicate()
