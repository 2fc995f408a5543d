"""The README's first command: ``xinyong demo`` runs the main job on a fresh SQLite ledger and
ends with what to run next, and the next steps it prints work."""

from __future__ import annotations

import os
import re
import shlex
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import httpx
import pytest

from tests.support.serving import free_port, ready, start_serve, stop_serve, wait_until

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
    _the_portal_is_worth_opening(tmp_path, out)


def _the_portal_is_worth_opening(folder: Path, out: str) -> None:
    """What the demo's last lines say works against a real ``xinyong serve``: its lists are
    public at once and labelled as demo data, the listed person signs in with the key in the
    file the demo names, and the printed curl runs the relying party's check."""
    keys_file = folder / re.search(r"keys \(.*\): (\S+)", out).group(1)  # type: ignore[union-attr]
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    keys = tomllib.loads(keys_file.read_text())
    assert {"operator", "relying", "subject"} <= set(keys)
    subject = keys["subject"]["id"]
    assert f"sign in as the listed person {subject}" in out
    curl = next(line for line in out.splitlines() if line.strip().startswith("curl "))
    token = re.search(r"Bearer (\S+)\"", curl).group(1)  # type: ignore[union-attr]
    assert token == keys["relying"]["token"]
    url = re.search(r'"(http://\S+/v1/checks\?\S+)"', out).group(1)  # type: ignore[union-attr]
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "XINYONG_DATABASE_URL"}
    server = start_serve(env, port, "--db", str(folder / "xinyong.db"))
    try:
        wait_until(server, lambda: ready(port), "the demo's service answers")
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=30) as client:
            check = client.get(
                url.replace("http://127.0.0.1:8000", base),
                headers={"Authorization": f"Bearer {token}"},
            )
            assert check.status_code == 200, check.text
            assert check.json()["applies"] is True  # the listed person is a judgment defaulter
            listed = client.get("/lists/judgment-defaulters/defaulters.json").json()
            assert listed["total"] > 0
            assert all(e["demo"] for e in listed["entries"])
            page = client.get("/lists/judgment-defaulters/defaulters")
            assert "demo data" in page.text
            form = client.get("/login")
            login_token = re.search(r'name="login_token" value="([^"]+)"', form.text)
            assert login_token is not None
            signed_in = client.post(
                "/login",
                data={"token": keys["subject"]["token"], "login_token": login_token.group(1)},
            )
            assert signed_in.status_code == 303, signed_in.text[:500]
            mine = client.get(signed_in.headers["location"])
            assert mine.status_code == 200
            assert subject in mine.text
    finally:
        stop_serve(server)


def _grade_tables(out: str) -> dict[str, dict[str, int]]:
    """Each pilot's grade counts from the demo's tables (``pilot id -> grade -> subjects``)."""
    tables: dict[str, dict[str, int]] = {}
    current: dict[str, int] | None = None
    for line in out.splitlines():
        if "subjects scored, run" in line:
            pilot = line.rsplit("(", 1)[1].split()[0]
            current = tables.setdefault(pilot, {})
        elif current is not None and line.strip().startswith("lists:"):
            current = None
        elif current is not None:
            parts = line.split()
            if len(parts) == 3 and parts[2].endswith("%"):
                current[parts[0]] = int(parts[1].replace(",", ""))
    return tables


def test_the_demo_shows_every_pilot_doing_something(tmp_path: Path) -> None:
    done = _xinyong(tmp_path, "demo")
    assert done.returncode == 0, done.stderr[-2000:]
    tables = _grade_tables(done.stdout)
    assert set(tables) == {
        "fuzhou-jasmine",
        "judgment-defaulters",
        "nosedive-gate",
        "rongcheng",
        "tax-credit",
        "xiamen-egret",
    }
    for pilot, grades in tables.items():
        assert sum(1 for n in grades.values() if n) >= 2, (pilot, grades)
    # the grades that need the records synth draws: assigned M and direct D, a listing, and
    # peer scores away from the prior on both sides of the gate
    assert tables["tax-credit"]["M"] > 0
    assert tables["tax-credit"]["D"] > 0
    assert tables["tax-credit"]["A"] < sum(tables["tax-credit"].values()) * 0.9
    assert tables["judgment-defaulters"]["LISTED"] > 0
    assert tables["nosedive-gate"]["PRIME"] > 0
    assert tables["nosedive-gate"]["GROUNDED"] > 0
