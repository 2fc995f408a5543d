"""A harness that crashes a real ``xinyong serve`` under load and counts what it lost.

One trial (:meth:`Durability.trial`) runs against a service started as the operator would start
it (``python -m xinyong serve`` in a process group of its own, over HTTP on a local port):

1. streams of record submissions (``POST /v1/records``), checks (``GET /v1/checks``) and due
   process (a subject's request for human review, ``POST /v1/me/reviews``, and an operator's
   decision on it) run on threads, and every answer is noted with its status; a 2xx answer is
   an acknowledgement;
2. beside them, CLI commands open the same ledger (``ledger head``, ``ledger verify``,
   ``export``, ``standings refresh``, ``report transparency``), as an operator's shell or cron
   would;
3. at a random moment one ``kill -9`` hits the service's main process, one of its helper
   processes (uvicorn workers, the submission worker, the background worker, multiprocessing's
   resource tracker) or the whole process group;
4. just before the kill, a second reader (a new connection) must already see every record
   acknowledged so far; the service is started again and the harness proves that every
   acknowledged record is in the ledger with its exact content, every acknowledged check is in
   the inquiry log and in its subject's ``/v1/me``, every acknowledged request for review is
   stored (decided, if its decision was acknowledged), ``ledger verify`` passes, no answer is a
   5xx once the crash is over, and no process outlived its parent by more than
   :data:`ORPHAN_SECONDS`.

Everything is seeded from one number (:class:`Durability`'s ``seed``) except the scheduler's
timing, which is the point: every run crashes the service at other moments.
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select

from tests.support.findings import FINDINGS
from tests.support.overridden import add_overridden
from tests.support.service_fixtures import SCHEME
from xinyong.application.keys import Role, create_key
from xinyong.decisions.relying import register_relying_party
from xinyong.domain.identifiers import synthetic_resident_id, synthetic_uscc
from xinyong.ledger.database import open_database
from xinyong.ledger.schema import inquiries, records, reviews
from xinyong.schemes.load import load_scheme
from xinyong.scoring.store import recorded_overrides

ORPHAN_SECONDS = 5.0
"""How long a helper process may outlive the process that started it: a helper looks for its
parent every quarter second, but multiprocessing's resource tracker ends only once every helper
has closed its pipe and it has cleaned up after them, and with the suite's other worker loading
both cores that has taken over 2 s."""
SETTLE_SECONDS = 2.0
"""After a helper is killed, how long requests in flight may still fail (503)."""
START_SECONDS = 90.0
"""How long a service may take to answer ``/ready``."""
INGEST = ("ingest", "{tmp}/furnished.parquet", "--batch-size", "40", "--apart")
"""A furnisher's Parquet file, validated in columns and prepared in a second process while this
one appends: appended once (beside the first trial's load), then all duplicates."""
CLI_COMMANDS = (
    ("ledger", "head"),
    ("ledger", "verify"),
    ("export", "--out", "{tmp}/export-{n}.parquet"),
    INGEST,
    ("standings", "refresh"),
    ("report", "transparency"),
    (  # an activation through the gate appends its override beside the service's writers
        "scheme",
        "add",
        "{tmp}/gate.toml",
        "--override",
        "bare-score-sanction=activated under load",
        "--official",
        "Test Official",
    ),
)
CODES = ("finance.contract_default", "court.defaulter", "civic.volunteer_service")
ORGANIZATIONS = tuple(synthetic_uscc(77, n) for n in range(2))
RELATION_SHARE = 0.15
"""The share of records that name a legal representative (a write to the related index)."""
PEER_SHARE = 0.2
"""The share of batches that also carry an interaction and a rating of it (the peer admission's
lookups under the write lock, and writes to the peer indexes)."""
MEASURE = "restrict-flights"
KILL_KINDS = ("main", "helper", "group")
FURNISHED_ROWS = 300
LOAD_SECONDS = float(os.environ.get("XINYONG_DURABILITY_LOAD_SECONDS", "3"))
"""The longest a trial loads the service before the kill (at least 1 s; a soak runs longer)."""


def free_port() -> int:
    """A port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_tree(root: int) -> dict[int, int]:
    """Every live process below ``root`` (children, their children...) with its parent, from
    /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses
        state, ppid = stat[stat.rindex(")") + 2 :].split()[:2]
        if state != "Z":
            parents[int(entry.name)] = int(ppid)
    tree: dict[int, int] = {}
    frontier = {root}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - set(tree)
        tree |= {child: parents[child] for child in frontier}
    return tree


def below(tree: dict[int, int], ancestor: int) -> set[int]:
    """The processes of ``tree`` below ``ancestor``."""
    found: set[int] = set()
    frontier = {ancestor}
    while frontier:
        frontier = {child for child, parent in tree.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting to be reaped does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


@dataclass
class Acknowledged:
    """What the service acknowledged, and every 5xx it answered, with the time."""

    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    checks: dict[str, str] = field(default_factory=dict)
    """Decision id to subject id."""
    adverse: dict[str, str] = field(default_factory=dict)
    """Decision id to the receipt of an adverse answer (its grounds proven)."""
    errors: list[tuple[float, str]] = field(default_factory=list)
    """(monotonic time, what) for every 5xx and every answer that breaks the contract."""
    activations: int = 0
    """``scheme add`` runs that exited 0: activated through the gate, with its override."""
    reviews: dict[str, str] = field(default_factory=dict)
    """Request for review id to its acknowledged status (open, confirmed)."""
    ingests: int = 0
    """``ingest`` runs of the furnished file that exited 0: all of its records are in."""
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Durability:
    """One service configuration to crash repeatedly: its ledger, keys and process."""

    url: str
    tmp: Path
    workers: int
    seed: int
    subjects: list[str] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)
    ack: Acknowledged = field(default_factory=Acknowledged)
    server: subprocess.Popen[bytes] | None = None
    port: int = 0
    numbers: Iterator[int] = field(default_factory=itertools.count)
    trials: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.env = {
            **os.environ,
            "XINYONG_DATABASE_URL": self.url,
            "XINYONG_SERVICE_SETTINGS": "",
            "PYTHONUNBUFFERED": "1",
        }

    # -- setting up ------------------------------------------------------------------------

    def prepare(self, people: int = 6, *, helpers: bool = True, settings: str = "") -> None:
        """A ledger with the example scheme, a relying party and a key per subject; the
        service's settings file holds ``settings`` too."""
        self.subjects = [synthetic_resident_id(77, date(1980, 1, 1 + n), n) for n in range(people)]
        engine = open_database(self.url)
        try:
            with engine.begin() as conn:
                add_overridden(conn, load_scheme(SCHEME))
                self.tokens["source"] = create_key(conn, Role.SOURCE, "bank").token
                self.tokens["relying"] = create_key(conn, Role.RELYING, "airline").token
                self.tokens["operator"] = create_key(conn, Role.OPERATOR, "Wang Fang").token
                for subject in self.subjects:
                    self.tokens[subject] = create_key(conn, Role.SUBJECT, subject).token
                register_relying_party(conn, "airline", ["restrict-flights"], "tickets")
        finally:
            engine.dispose()
        (self.tmp / "gate.toml").write_text(FINDINGS["bare-score-sanction"], encoding="utf-8")
        self._furnished_file(self.tmp / "furnished.parquet")
        file = self.tmp / "service.toml"
        text = "rate_per_second = 100000\nburst = 100000\n"
        if not helpers:
            text += "ingest_process = false\n"
        file.write_text(text + settings, encoding="utf-8")
        self.env["XINYONG_SERVICE_SETTINGS"] = str(file)

    def _furnished_rows(self) -> dict[str, tuple[str, str, date]]:
        """The records of another source than the service's (``clerk``) that ``xinyong ingest``
        appends: record id to subject, code and day."""
        return {
            f"F{i}": (
                self.subjects[i % len(self.subjects)],
                CODES[i % 2],
                date(2024, 1, 1) + timedelta(days=i % 300),
            )
            for i in range(FURNISHED_ROWS)
        }

    def _furnished_file(self, path: Path) -> None:
        """:meth:`_furnished_rows` as a Parquet file."""
        rows = self._furnished_rows()
        table = pa.table(
            {
                "record_id": list(rows),
                "subject_id": [subject for subject, _, _ in rows.values()],
                "subject_kind": ["person"] * len(rows),
                "code": [code for _, code, _ in rows.values()],
                "occurred_at": pa.array([day for _, _, day in rows.values()], pa.date32()),
                "source": ["clerk"] * len(rows),
                "attrs": ["{}"] * len(rows),
            }
        )
        pq.write_table(table, path)

    # -- the service -----------------------------------------------------------------------

    def start(self, *, wait: bool = True) -> None:
        """Start ``xinyong serve`` in a process group of its own; wait until it is ready."""
        self.port = free_port()
        log = (self.tmp / "serve.log").open("ab")
        command = [sys.executable, "-m", "xinyong", "serve", "--port", str(self.port)]
        command += ["--workers", str(self.workers), "--settings", self.env[_SETTINGS]]
        self.server = subprocess.Popen(
            command, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        if not wait:
            return
        deadline = time.monotonic() + START_SECONDS
        while True:
            assert self.server.poll() is None, f"serve exited: {self.log_tail()}"
            try:
                if httpx.get(f"{self.base}/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"serve did not start: {self.log_tail()}"
            time.sleep(0.1)
        if self.workers > 1:  # every worker process has started
            deadline = time.monotonic() + START_SECONDS
            while len(self.helpers()) < self.workers + 1:
                assert time.monotonic() < deadline, f"workers did not start: {self.log_tail()}"
                time.sleep(0.1)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 40) -> str:
        path = self.tmp / "serve.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def helpers(self) -> set[int]:
        assert self.server is not None
        return set(process_tree(self.server.pid))

    def strays(self) -> list[str]:
        """Processes of this ledger's service that are not below the running service: orphans
        (found by the database URL in their environment, whoever their parent is now)."""
        roots = {os.getpid()}  # the test and the CLI commands it runs
        if self.server is not None and self.server.poll() is None:
            roots.add(self.server.pid)
        marker = f"XINYONG_DATABASE_URL={self.url}".encode()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or _has_ancestor(int(entry.name), roots):
                continue
            try:
                environ = (entry / "environ").read_bytes()
            except OSError:
                continue
            if marker in environ.split(b"\0") and alive(int(entry.name)):
                found.append(f"{entry.name} ({_name(int(entry.name))})")
        return found

    def stop(self) -> None:
        """Kill what is left of the service (its whole group), after making sure that nothing
        of an earlier service is still running outside it."""
        if self.server is None:
            return
        strays = self.strays()
        assert not strays, f"processes outlived the service that started them: {strays}"
        with suppress(ProcessLookupError):
            os.killpg(self.server.pid, signal.SIGKILL)
        self.server.wait(timeout=30)
        self.server = None

    # -- load ------------------------------------------------------------------------------

    def new_record(self) -> dict[str, Any]:
        number = next(self.numbers)
        if self.rng.random() < RELATION_SHARE:
            # a relation record: its insert also writes the ledger's related-person index
            return {
                "record_id": f"dur-{self.seed}-{number}",
                "subject_id": self.rng.choice(ORGANIZATIONS),
                "subject_kind": "organization",
                "code": "relation.legal_representative",
                "occurred_at": str(date.today() - timedelta(days=self.rng.randrange(1, 400))),
                "attrs": {"person": self.rng.choice(self.subjects)},
            }
        code = self.rng.choice(CODES)
        record: dict[str, Any] = {
            "record_id": f"dur-{self.seed}-{number}",
            "subject_id": self.rng.choice(self.subjects),
            "subject_kind": "person",
            "code": code,
            "occurred_at": str(date.today() - timedelta(days=self.rng.randrange(1, 400))),
        }
        if code == "finance.contract_default":
            record["attrs"] = {
                "amount": self.rng.randrange(100, 90_000),
                "channel": self.rng.choice(["branch", "online"]),
            }
        if self.rng.random() < 0.5:
            record["case_id"] = f"case-{self.rng.randrange(10**6)}"
        if self.rng.random() < 0.3:
            record["evidence"] = f"file {self.rng.randrange(10**6)} 信用 ✓"
        return record

    def new_rating(self) -> list[dict[str, Any]]:
        """Two people's records of a new interaction and a rating of it, on a random day (of
        400: no rater comes near the daily limit)."""
        number = next(self.numbers)
        rater, rated = self.rng.sample(self.subjects, 2)
        day = str(date.today() - timedelta(days=self.rng.randrange(1, 400)))
        case = f"meet-{self.seed}-{number}"
        met = [
            {
                "record_id": f"dur-{self.seed}-{number}-{one}",
                "subject_id": one,
                "subject_kind": "person",
                "code": "peer.interaction",
                "occurred_at": day,
                "case_id": case,
                "attrs": {"counterpart": other},
            }
            for one, other in ((rater, rated), (rated, rater))
        ]
        rating = {
            **met[1],
            "record_id": f"dur-{self.seed}-{number}-rating",
            "code": "peer.rating",
            "attrs": {"rater": rater, "stars": self.rng.randrange(1, 6)},
        }
        return [*met, rating]

    def post_records(self, client: httpx.Client, stop: threading.Event) -> None:
        headers = {"Authorization": f"Bearer {self.tokens['source']}"}
        while not stop.is_set():
            with self.ack.lock:
                batch = [self.new_record() for _ in range(self.rng.randrange(1, 6))]
                if self.rng.random() < PEER_SHARE:
                    batch += self.new_rating()
            answer = self._send(client, "POST", "/v1/records", headers, json={"records": batch})
            if answer is None or not answer.is_success:
                continue
            report = answer.json()
            with self.ack.lock:
                # A batch the submission worker had appended when it was killed is submitted
                # again by the service: its records come back as duplicates of themselves.
                if report["accepted"] + report["duplicates"] != len(batch) or report["rejected"]:
                    self.ack.errors.append((time.monotonic(), f"records refused: {report}"))
                for record in batch:
                    self.ack.records[record["record_id"]] = record

    def make_checks(self, client: httpx.Client, stop: threading.Event) -> None:
        headers = {"Authorization": f"Bearer {self.tokens['relying']}"}
        rng = random.Random(self.rng.random())
        while not stop.is_set():
            subject = rng.choice(self.subjects)
            params = {"subject": subject, "measure": MEASURE}
            answer = self._send(client, "GET", "/v1/checks", headers, params=params)
            if answer is not None and answer.is_success:
                body = answer.json()
                with self.ack.lock:
                    self.ack.checks[body["decision_id"]] = subject
                    if '"grounds":' in body["receipt"]:
                        self.ack.adverse[body["decision_id"]] = body["receipt"]

    def ask_and_review(self, client: httpx.Client, stop: threading.Event) -> None:
        """A subject asks for human review of their standing; an operator confirms it. A
        request left open by a crash (committed, its answer lost) is decided first."""
        subject = self.subjects[0]
        mine = {"Authorization": f"Bearer {self.tokens[subject]}"}
        staff = {"Authorization": f"Bearer {self.tokens['operator']}"}
        decide = {"change": False, "reason": "confirmed under load"}
        while not stop.is_set():
            body = {
                "kind": "standing",
                "target": "rongcheng",
                "reason": f"review {next(self.numbers)}",
            }
            asked = self._try(client, "POST", "/v1/me/reviews", mine, json=body)
            if asked is None:
                continue
            if asked.status_code == 201:
                review_id = asked.json()["review_id"]
                with self.ack.lock:
                    self.ack.reviews[review_id] = "open"
                pending = [review_id]
            elif asked.status_code == 422 and "still open" in asked.text:
                listed = self._try(client, "GET", "/v1/me/reviews", mine)
                if listed is None or not listed.is_success:
                    continue
                pending = [r["review_id"] for r in listed.json() if r["status"] == "open"]
            else:
                continue  # a 5xx: noted by _try
            for review_id in pending:
                path = f"/v1/reviews/{review_id}/decision"
                decided = self._try(client, "POST", path, staff, json=decide, expected=(200, 409))
                if decided is not None and decided.status_code == 200:
                    with self.ack.lock:
                        self.ack.reviews[review_id] = "confirmed"

    def _try(
        self,
        client: httpx.Client,
        method: str,
        path: str,
        headers: dict[str, str],
        *,
        expected: tuple[int, ...] = (200, 201, 422),
        **kw: Any,
    ) -> httpx.Response | None:
        """A due-process request: an answer not in ``expected`` breaks the contract."""
        try:
            answer = client.request(method, self.base + path, headers=headers, **kw)
        except httpx.TransportError:
            return None
        with self.ack.lock:
            self.ack.requests += 1
            if answer.status_code not in expected:
                self.ack.errors.append(
                    (time.monotonic(), f"{method} {path}: {answer.status_code} {answer.text[:200]}")
                )
        return answer

    def _send(
        self, client: httpx.Client, method: str, path: str, headers: dict[str, str], **kw: Any
    ) -> httpx.Response | None:
        try:
            answer = client.request(method, self.base + path, headers=headers, **kw)
        except httpx.TransportError:
            return None  # not acknowledged: the service was down or the connection cut
        with self.ack.lock:
            self.ack.requests += 1
            if 400 <= answer.status_code < 500:  # the harness only sends what must succeed
                self.ack.errors.append(
                    (time.monotonic(), f"{method} {path}: {answer.status_code} {answer.text[:200]}")
                )
            if answer.status_code >= 500:
                self.ack.errors.append(
                    (time.monotonic(), f"{method} {path}: {answer.status_code} {answer.text[:200]}")
                )
        return answer

    @contextmanager
    def load(self, *, cli: bool = True) -> Iterator[None]:
        """Submissions, checks and (with ``cli``) CLI commands, until the block ends."""
        stop = threading.Event()
        clients = [httpx.Client(timeout=30) for _ in range(4)]
        threads = [
            threading.Thread(target=self.post_records, args=(clients[0], stop)),
            threading.Thread(target=self.make_checks, args=(clients[1], stop)),
            threading.Thread(target=self.make_checks, args=(clients[2], stop)),
            threading.Thread(target=self.ask_and_review, args=(clients[3], stop)),
        ]
        if cli:
            threads.append(threading.Thread(target=self.run_cli, args=(stop,)))
        for thread in threads:
            thread.start()
        try:
            yield
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=120)
            for client in clients:
                client.close()

    def run_cli(self, stop: threading.Event) -> None:
        rng = random.Random(self.rng.random())
        self.cli(*INGEST)  # every trial's first command: an ingest beside the load
        while not stop.is_set():
            self.cli(*rng.choice(CLI_COMMANDS))

    def cli(self, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        """Run ``xinyong ARGS`` beside the service (``{tmp}`` and ``{n}`` filled in)."""
        filled = [a.format(tmp=self.tmp, n=next(self.numbers)) for a in args]
        result = subprocess.run(
            [sys.executable, "-m", "xinyong", *filled],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if filled[:2] == ["scheme", "add"] and result.returncode == 0:
            with self.ack.lock:
                self.ack.activations += 1
        if filled[0] == "ingest" and result.returncode == 0:
            with self.ack.lock:
                self.ack.ingests += 1
        if check:
            assert result.returncode == 0, f"xinyong {' '.join(filled)}: {result.stderr}"
        elif result.returncode != 0:
            with self.ack.lock:
                self.ack.errors.append(
                    (time.monotonic(), f"xinyong {' '.join(filled)}: {result.stderr[-300:]}")
                )
        return result

    # -- a trial ---------------------------------------------------------------------------

    def trial(self, kind: str, until: Callable[[], bool] | None = None) -> dict[str, Any]:
        """Load the running service, kill part of it at a random moment (with ``until``, the
        first moment after it that ``until()`` holds, looked for every half millisecond for up
        to :data:`UNTIL_SECONDS`), start it again and verify; the trial's figures."""
        assert self.server is not None
        before = (
            len(self.ack.records),
            len(self.ack.checks),
            self.ack.requests,
            len(self.ack.adverse),
        )
        wait = self.rng.uniform(1.0, max(1.0, LOAD_SECONDS))
        killed_at = 0.0
        with self.load():
            time.sleep(wait)
            unseen = self.unseen_by_a_second_reader()
            met = _when(until) if until is not None else None
            tree = process_tree(self.server.pid)
            names = {pid: _name(pid) for pid in [self.server.pid, *tree]}
            if kind == "helper" and not tree:  # a service without helper processes
                kind = "main"
            if kind == "main":
                victim = self.server.pid
                os.kill(victim, signal.SIGKILL)
            elif kind == "helper":
                victim = self.rng.choice(sorted(tree))
                with suppress(ProcessLookupError):
                    os.kill(victim, signal.SIGKILL)
            else:
                victim = self.server.pid
                os.killpg(victim, signal.SIGKILL)
            killed_at = time.monotonic()
            victim_name = names.get(victim, "?")
            orphans = self._orphans(below(tree, victim), killed_at, strays=kind != "helper")
            time.sleep(self.rng.uniform(0.5, 2.5))  # load goes on (refused, or served by the rest)
        self.stop()
        self.start()
        with self.load(cli=False):  # served as usual after the restart
            time.sleep(1.0)
        trial = {
            "kind": kind,
            "until_met": met,
            "workers": self.workers,
            "killed_after_s": round(wait, 2),
            "victim": victim_name,
            "records_acknowledged": len(self.ack.records) - before[0],
            "checks_acknowledged": len(self.ack.checks) - before[1],
            "adverse_acknowledged": len(self.ack.adverse) - before[3],
            "requests": self.ack.requests - before[2],
            "orphans": orphans,
        }
        self.trials.append(trial)
        problems = self.verify(killed_at, kind)
        trial["lost"] = problems["lost"]
        assert not unseen, f"acknowledged, yet a second reader does not see them: {unseen[:5]}"
        assert trial["records_acknowledged"] > 0, "no record was acknowledged in the trial"
        assert trial["checks_acknowledged"] > 0, "no check was acknowledged in the trial"
        assert not orphans, f"processes outlived their parent: {orphans}"
        assert not problems["failures"], "\n".join(problems["failures"])
        return trial

    def kill_while_starting(self) -> dict[str, Any]:
        """Start the service and ``kill -9`` its main process at a random moment of its start
        (its workers and helpers importing, opening the ledger, starting theirs); nothing of it
        may run :data:`ORPHAN_SECONDS` later."""
        # A moment in a random stage: wait for some of its processes to exist, then a little.
        full = 3 if self.workers == 1 else 1 + 3 * self.workers  # and the resource tracker
        stage = self.rng.randint(0, full)
        started = time.monotonic()
        self.start(wait=False)
        assert self.server is not None
        while len(process_tree(self.server.pid)) < stage and time.monotonic() - started < 60:
            time.sleep(0.02)
        time.sleep(self.rng.uniform(0.0, 0.5))
        wait = time.monotonic() - started
        tree = process_tree(self.server.pid)
        os.kill(self.server.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        self.server.wait(timeout=30)
        orphans = self._orphans(set(tree), killed_at, strays=True)
        with suppress(ProcessLookupError):
            os.killpg(self.server.pid, signal.SIGKILL)  # whatever is left, for the next trial
        self.server = None
        trial = {
            "kind": "starting",
            "workers": self.workers,
            "killed_after_s": round(wait, 2),
            "processes": len(tree) + 1,
            "orphans": orphans,
        }
        self.trials.append(trial)
        assert not orphans, f"processes outlived their parent: {orphans}"
        return trial

    def unseen_by_a_second_reader(self) -> list[str]:
        """Acknowledged records that a new connection to the ledger does not see while the
        service runs (the symptom of a deleted write-ahead log: the service writes on into a
        file nobody else can read)."""
        with self.ack.lock:
            acknowledged = list(self.ack.records)
        engine = open_database(self.url, migrate=False)
        try:
            with engine.connect() as conn:
                seen = {
                    str(row[0])
                    for row in conn.execute(
                        select(records.c.record_id).where(records.c.source == "bank")
                    )
                }
        finally:
            engine.dispose()
        return [record_id for record_id in acknowledged if record_id not in seen]

    def _orphans(self, watched: set[int], killed_at: float, *, strays: bool) -> list[str]:
        """The processes below a killed one still running :data:`ORPHAN_SECONDS` later (with
        ``strays``, when the service itself is dead: any process of it at all)."""

        def left() -> list[str]:
            found = [f"{p} ({_name(p)})" for p in sorted(watched) if alive(p)]
            return found + (self.strays() if strays else [])

        deadline = killed_at + ORPHAN_SECONDS
        while time.monotonic() < deadline and left():
            time.sleep(0.05)
        return left()

    def verify(self, killed_at: float, kind: str) -> dict[str, Any]:
        """What the running service and the ledger hold against what was acknowledged."""
        failures: list[str] = []
        lost = 0
        engine = open_database(self.url, migrate=False)
        try:
            with engine.connect() as conn:
                stored = {
                    row.record_id: row
                    for row in conn.execute(
                        select(records).where(records.c.source == "bank")
                    ).mappings()
                }
                logged = {
                    row.decision_id: row.subject_id
                    for row in conn.execute(select(inquiries.c.decision_id, inquiries.c.subject_id))
                }
                furnished = {
                    row.record_id: (row.subject_id, row.code, row.occurred_at)
                    for row in conn.execute(
                        select(
                            records.c.record_id,
                            records.c.subject_id,
                            records.c.code,
                            records.c.occurred_at,
                        ).where(records.c.source == "clerk")
                    )
                }
                overridden = recorded_overrides(conn, "gate-test")
                reviewed = {
                    row.review_id: row.status
                    for row in conn.execute(select(reviews.c.review_id, reviews.c.status))
                }
        finally:
            engine.dispose()
        for record_id, sent in self.ack.records.items():
            row = stored.get(record_id)
            if row is None:
                lost += 1
                failures.append(f"acknowledged record {record_id} is not in the ledger")
            elif _content(row) != _expected(sent):
                failures.append(f"record {record_id}: stored {_content(row)}, sent {sent}")
        for decision_id, subject in self.ack.checks.items():
            if logged.get(decision_id) != subject:
                lost += 1
                failures.append(f"acknowledged check {decision_id} is not in the inquiry log")
        missing = self._lost_reviews(reviewed)
        lost += len(missing)
        failures += missing
        if self.ack.ingests and furnished != self._furnished_rows():
            lost += 1
            failures.append(
                f"an acknowledged ingest of {FURNISHED_ROWS} records left {len(furnished)},"
                " or not as sent"
            )
        if self.ack.activations and not overridden:
            lost += 1
            failures.append("an acknowledged activation's override is not in the ledger")
        unseen = self._not_in_files()
        lost += sum(1 for what in unseen if "notice" in what)
        failures += unseen + self._replayed_receipts()
        verified = self.cli("ledger", "verify")
        if verified.returncode != 0:
            failures.append(f"ledger verify failed: {verified.stdout} {verified.stderr}")
        grace = SETTLE_SECONDS if kind == "helper" else 0.0
        for at, what in self.ack.errors:
            if at > killed_at + grace or at < killed_at:
                failures.append(f"{at - killed_at:+.2f} s from the kill: {what}")
        self.ack.errors.clear()
        return {"lost": lost, "failures": failures}

    def _lost_reviews(self, stored: dict[str, str]) -> list[str]:
        """Acknowledged requests for review (and decisions on them) that are not stored."""
        lost = []
        for review_id, status in self.ack.reviews.items():
            if review_id not in stored:
                lost.append(f"acknowledged request for review {review_id} is not stored")
            elif status == "confirmed" and stored[review_id] != "confirmed":
                lost.append(f"acknowledged decision on review {review_id} is not stored")
        return lost

    def _not_in_files(self) -> list[str]:
        """Acknowledged checks the subjects' files do not show, and adverse ones whose notice
        they do not show."""
        seen, noticed = self._checks_in_files()
        failures = [
            f"check {decision_id} is not in {subject}'s /v1/me"
            for decision_id, subject in self.ack.checks.items()
            if decision_id not in seen.get(subject, set())
        ]
        return failures + [
            f"adverse check {decision_id}'s notice is not in /v1/me"
            for decision_id in self.ack.adverse
            if decision_id not in noticed
        ]

    def _checks_in_files(self) -> tuple[dict[str, set[str]], set[str]]:
        """The checks each subject's file shows, and the decisions its adverse notices name."""
        seen: dict[str, set[str]] = {}
        noticed: set[str] = set()
        with httpx.Client(timeout=60) as client:
            for subject in self.subjects:
                headers = {"Authorization": f"Bearer {self.tokens[subject]}"}
                answer = client.get(f"{self.base}/v1/me", headers=headers)
                assert answer.status_code == 200, answer.text
                seen[subject] = {c["decision_id"] for c in answer.json()["checks"]}
                noticed |= {
                    n["decision_id"]
                    for n in answer.json()["notices"]
                    if n["kind"] == "adverse-check"
                }
        return seen, noticed

    def _replayed_receipts(self, sample: int = 10) -> list[str]:
        """Some acknowledged adverse answers, replayed after the crash: the same receipt, its
        grounds proven, byte for byte."""
        chosen = self.rng.sample(sorted(self.ack.adverse), min(sample, len(self.ack.adverse)))
        headers = {"Authorization": f"Bearer {self.tokens['operator']}"}
        failures = []
        with httpx.Client(timeout=60) as client:
            for decision_id in chosen:
                replay = client.get(f"{self.base}/v1/decisions/{decision_id}", headers=headers)
                if replay.status_code != 200:
                    failures.append(f"replay of {decision_id}: {replay.status_code}")
                elif replay.json()["receipt"] != self.ack.adverse[decision_id]:
                    failures.append(f"replay of {decision_id} gives another receipt")
        return failures


_SETTINGS = "XINYONG_SERVICE_SETTINGS"


def _has_ancestor(pid: int, ancestors: set[int]) -> bool:
    """Whether ``pid`` is one of ``ancestors`` or below one of them, now (from /proc)."""
    current = pid
    for _ in range(64):
        if current in ancestors:
            return True
        try:
            stat = Path(f"/proc/{current}/stat").read_text()
        except OSError:
            return False
        current = int(stat[stat.rindex(")") + 2 :].split()[1])
        if current <= 1:
            return False
    return False


UNTIL_SECONDS = 5.0
"""The longest a trial waits for the moment its ``until`` names."""


def _when(until: Callable[[], bool]) -> bool:
    """Wait until ``until()`` holds (True), or :data:`UNTIL_SECONDS` have passed (False)."""
    deadline = time.monotonic() + UNTIL_SECONDS
    while not until():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.0005)
    return True


def _name(pid: int) -> str:
    """What a process runs, in a few words (for the trial's report)."""
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    text = " ".join(w.decode(errors="replace") for w in words if w)
    for marker, name in (
        ("resource_tracker", "resource tracker"),
        ("spawn_main", "spawned helper"),
        ("xinyong serve", "serve"),
    ):
        if marker in text:
            return name
    return text[:60]


def _content(row: Any) -> dict[str, Any]:
    return {
        "subject_id": row.subject_id,
        "subject_kind": row.subject_kind,
        "code": row.code,
        "occurred_at": str(row.occurred_at),
        "case_id": row.case_id,
        "attrs": orjson.loads(row.attrs),
        "evidence": row.evidence,
    }


def _expected(sent: dict[str, Any]) -> dict[str, Any]:
    return {
        "subject_id": sent["subject_id"],
        "subject_kind": sent["subject_kind"],
        "code": sent["code"],
        "occurred_at": sent["occurred_at"],
        "case_id": sent.get("case_id"),
        "attrs": sent.get("attrs", {}),
        "evidence": sent.get("evidence"),
    }
