"""The README's first command: ``xinyong demo`` runs the main job on a fresh SQLite ledger and
ends with what to run next, and the next steps it prints work."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _xinyong(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "xinyong", *args],
        cwd=cwd,
        env={k: v for k, v in os.environ.items() if k != "XINYONG_DATABASE_URL"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_demo_runs_the_main_job_and_says_what_to_run_next(tmp_path: Path) -> None:
    done = _xinyong(tmp_path, "demo", "--people", "300", "--orgs", "30", "--years", "3")
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "xinyong.db").exists()  # the embedded default, no server
    out = done.stdout
    assert "ledger verified:" in out
    assert "next:" in out
    assert "xinyong serve" in out
    assert "lab run pilots" in out
    explain = next(line.strip() for line in out.splitlines() if "xinyong explain" in line)
    shown = _xinyong(tmp_path, *shlex.split(explain)[1:])
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert "Records that counted" in shown.stdout
