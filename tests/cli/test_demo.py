"""The README's first command: ``xinyong demo`` runs the main job on a fresh SQLite ledger and
ends with what to run next, and the next steps it prints work."""

from __future__ import annotations

import json
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

from tests.support.browser import CHROMIUM, LAUNCH_ARGS, shot
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
    assert keys["relying"]["token"] not in out  # no secret printed: the curl reads the file
    lines = out.splitlines()
    export = next(i for i, line in enumerate(lines) if line.strip().startswith("export "))
    assert lines[export + 1].strip().startswith("curl ")
    curl = "\n".join(line.strip() for line in lines[export : export + 2])
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "XINYONG_DATABASE_URL"}
    server = start_serve(env, port, "--db", str(folder / "xinyong.db"))
    try:
        wait_until(server, lambda: ready(port), "the demo's service answers")
        base = f"http://127.0.0.1:{port}"
        ran = subprocess.run(  # the two lines as printed, but on the test's port
            ["bash", "-c", curl.replace("http://127.0.0.1:8000", base) + " --fail-with-body"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert ran.returncode == 0, ran.stderr + ran.stdout
        answer = json.loads(ran.stdout)
        assert answer["subject"] == subject
        assert answer["applies"] is True  # the listed person is a judgment defaulter
        with httpx.Client(base_url=base, timeout=30) as client:
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
        _a_listed_person_disputes_in_both_languages(base, keys["subject"]["token"])
    finally:
        stop_serve(server)


WORDS = {
    "zh": {"file": "我的信用档案", "filed": "您的异议已提交", "reason": "这条记录不是我的"},
    "en": {"file": "Your file", "filed": "Your objection is filed", "reason": "not mine"},
}


def _a_listed_person_disputes_in_both_languages(base: str, token: str) -> None:
    """As a person would, in Chromium on this machine (no CJK font of its own): open the portal,
    choose the language, sign in with the key from the demo's file, and dispute a record that
    counts against them; screenshots in tests/artifacts."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            for number, (language, words) in enumerate(WORDS.items()):
                page = browser.new_page()
                page.goto(f"{base}/?lang={language}")
                page.locator('a[href="/login"]').first.click()
                page.locator("#token").fill(token)
                page.locator('form[action="/login"] button[type="submit"]').click()
                expect(page.locator("h1")).to_have_text(words["file"])
                page.evaluate("document.fonts.ready")
                shot(page, f"demo-{language}-file")
                if language == "zh":  # the pilots' own text, and why one does not score them
                    text = page.inner_text("main")
                    assert "荣成模式个人信用积分" in text
                    assert "该方案仅对同意评分的信用主体评分" in text
                    for english in (
                        "citizen points",
                        "judgment defaulters",
                        "consent to",
                        "predicate",
                    ):
                        assert english not in text
                records = page.locator("#objection-record option")
                assert records.count() >= 2, "the listed person has records to dispute"
                page.locator("#objection-record").select_option(index=number)  # one each
                page.locator("#objection-reason").fill(words["reason"])
                page.locator('form[action="/me/objections"] button[type="submit"]').click()
                expect(page.locator("p.notice")).to_contain_text(words["filed"])
                if language == "zh":  # drawn with the bundled font, not boxes
                    assert page.evaluate(
                        "document.fonts.check('16px \"Xinyong Sans SC\"', '我的信用档案')"
                    )
                shot(page, f"demo-{language}-disputed")
                page.close()
        finally:
            browser.close()


def test_the_demo_refuses_a_ledger_with_real_people(tmp_path: Path) -> None:
    """Its lists are public at once: never in a ledger that names someone real."""
    real = tmp_path / "real.csv"
    real.write_text(
        "record_id,subject_id,subject_kind,code,occurred_at,source\n"
        "r1,11010519491231002X,person,traffic.violation,2024-01-02,police\n",
        encoding="utf-8",
    )
    assert _xinyong(tmp_path, "ingest", str(real)).returncode == 0
    done = _xinyong(tmp_path, "demo", "--people", "50", "--orgs", "5", "--years", "1")
    assert done.returncode == 2
    assert "real (not synthetic) identifiers" in done.stderr
    listed = _xinyong(tmp_path, "keys", "list", "--json")
    assert listed.stdout.strip() == ""  # no key made, nothing published


def test_a_second_demo_revokes_only_its_own_earlier_keys(tmp_path: Path) -> None:
    args = ("demo", "--people", "200", "--orgs", "20", "--years", "2")
    assert _xinyong(tmp_path, *args).returncode == 0
    other = _xinyong(tmp_path, "keys", "create", "--role", "operator", "--label", "xinyong demo")
    first = tomllib.loads((tmp_path / "demo-out" / "keys.toml").read_text())
    (tmp_path / "demo-out" / "keys.toml").chmod(0o644)
    assert _xinyong(tmp_path, *args).returncode == 0
    keys_file = tmp_path / "demo-out" / "keys.toml"
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    second = tomllib.loads(keys_file.read_text())
    assert first["operator"]["token"] != second["operator"]["token"]
    rows = [
        json.loads(line)
        for line in _xinyong(tmp_path, "keys", "list", "--json").stdout.splitlines()
    ]
    active = {(r["role"], r["name"]) for r in rows if r["revoked_at"] is None}
    revoked = [r for r in rows if r["revoked_at"] is not None]
    assert len(revoked) == 3  # the first run's operator, relying party and subject
    assert ("operator", "") in active  # someone else's key, though labelled alike
    assert other.returncode == 0


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
