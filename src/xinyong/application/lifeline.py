"""Processes that end with the process that started them.

``xinyong serve`` runs helper processes: uvicorn's worker processes under its supervisor (with
``--workers N``), in each worker the record submission process, and the background worker. When
their parent is killed (``kill -9``, the out-of-memory killer) nothing tells them: uvicorn's
worker keeps both ends of its health-check pipe, a process pool's worker both ends of its queue,
so none of them ever reads an end of file. An orphaned worker would keep answering on the port,
and an orphaned helper keep the ledger open, while a new service starts beside them.

So each helper watches its parent: a daemon thread looks every :data:`POLL_SECONDS` whether the
process it was started by is still its parent (a dead parent's children are adopted by init or a
subreaper), and ends the process at once when it is not. That is safe: everything a helper has
acknowledged is committed, and what it had not acknowledged is nobody's to lose.
"""

from __future__ import annotations

import importlib
import logging
import os
import runpy
import sys
import threading
from typing import Any

__all__ = [
    "EXIT_CODE",
    "PARENT_ENV",
    "POLL_SECONDS",
    "follow_parent",
    "helper_command",
    "run_helper",
]

log = logging.getLogger("xinyong.lifeline")

POLL_SECONDS = 0.25
"""How often a helper looks for its parent."""
PARENT_ENV = "XINYONG_SUPERVISOR_PID"
"""Set by ``xinyong serve --workers N`` to its own pid, so that uvicorn's worker processes (which
build the app from the environment) know that they have a supervisor to follow."""
EXIT_CODE = 70
"""The exit status of a process that ended because its parent had died."""


def follow_parent(parent: int | None = None) -> threading.Thread:
    """End this process when ``parent`` (default: the current parent) is no longer its parent;
    at once when it already is not (it died while this process was starting).

    Returns the watching thread.
    """
    expected = os.getppid() if parent is None else parent
    if os.getppid() != expected:
        log.error("parent process %d is gone; pid %d exits", expected, os.getpid())
        os._exit(EXIT_CODE)
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(POLL_SECONDS):
            if os.getppid() != expected:
                log.error("parent process %d is gone; pid %d exits", expected, os.getpid())
                os._exit(EXIT_CODE)

    thread = threading.Thread(target=watch, name="xinyong-lifeline", daemon=True)
    thread.start()
    return thread


def run_helper(parent: int, target: str, *args: Any) -> Any:
    """Follow ``parent``, then import ``target`` (``"module:function"``) and call it.

    The entry point of every helper process: a spawned process imports its target's module
    before it runs anything, and a helper's module takes seconds to import; started here, the
    helper follows its parent from its first moment, whatever it imports next.
    """
    follow_parent(parent)
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)(*args)


def helper_command(module: str, *args: str) -> list[str]:
    """The command line that runs ``python -m module args...`` as a helper of this process:
    following it from its first instruction, before the seconds its imports can take (a process
    that only follows its parent once its own code runs outlives a parent killed meanwhile)."""
    return [sys.executable, "-m", __spec__.name, str(os.getpid()), module, *args]


def _main(argv: list[str]) -> None:
    """``python -m xinyong.application.lifeline PARENT MODULE [ARGS...]``: follow ``PARENT``,
    then run ``MODULE`` as ``python -m MODULE ARGS...`` would."""
    parent, module, *rest = argv
    follow_parent(int(parent))
    sys.argv = [module, *rest]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    _main(sys.argv[1:])
