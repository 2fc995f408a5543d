"""One rate limit per relying party, however many web workers serve the deployment.

Redis runs at 127.0.0.1:6379 on the project's machines (``.ci/run`` starts it); each test uses a
namespace of its own.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.support.ledgers import new_ledger
from tests.support.overridden import override_args
from tests.support.service_fixtures import PERSON, SCHEME
from tests.support.serving import free_port, ready, start_serve, stop_serve, wait_until
from xinyong.application.ratelimit import RateLimiterDown, SharedBuckets, TokenBuckets

REDIS = "redis://127.0.0.1:6379/0"


def test_two_workers_sharing_redis_grant_one_burst_between_them() -> None:
    namespace = uuid.uuid4().hex

    async def run() -> list[float]:
        workers = [SharedBuckets(REDIS, namespace, rate=0.001, burst=25) for _ in range(2)]
        try:
            waits = [await workers[i % 2].take("airline") for i in range(60)]
            other = await workers[0].take("bank")  # another party has its own bucket
        finally:
            for worker in workers:
                await worker.close()
        assert other == 0.0
        return waits

    waits = asyncio.run(run())
    assert waits[:25] == [0.0] * 25  # one burst between them, exactly
    assert all(wait > 0 for wait in waits[25:])


def test_workers_never_hold_tokens_that_outlive_the_refill() -> None:
    """A review found leased tokens kept by idle workers while the shared bucket refilled
    behind them: 8 workers admitted 173 checks where a burst of 100 allowed 101."""
    namespace = uuid.uuid4().hex

    async def run() -> tuple[int, float]:
        workers = [SharedBuckets(REDIS, namespace, rate=50, burst=100) for _ in range(8)]
        try:
            for worker in workers:
                assert await worker.take("airline") == 0.0
            await asyncio.sleep(2.5)  # the bucket is full again
            started = time.monotonic()
            admitted = 0
            for i in range(400):
                admitted += await workers[i % 8].take("airline") == 0.0
            return admitted, time.monotonic() - started
        finally:
            for worker in workers:
                await worker.close()

    admitted, seconds = asyncio.run(run())
    assert admitted <= 100 + 50 * seconds + 1


def test_an_unreachable_redis_refuses_rather_than_lets_through() -> None:
    async def run() -> None:
        limiter = SharedBuckets("redis://127.0.0.1:1/0", "x", rate=10, burst=10)
        with pytest.raises(RateLimiterDown):
            await limiter.take("airline")
        await limiter.close()

    asyncio.run(run())


def test_serve_refuses_more_workers_than_the_burst_without_redis(tmp_path: Path) -> None:
    settings = tmp_path / "service.toml"
    settings.write_text("burst = 1\n", encoding="utf-8")
    env = {**os.environ, "XINYONG_DATABASE_URL": new_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")}
    done = subprocess.run(
        [sys.executable, "-m", "xinyong", "serve", "--workers", "2", "--settings", str(settings)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "cannot be divided between 2 workers" in done.stderr


def test_without_a_shared_store_workers_divide_the_limit() -> None:
    shares = [TokenBuckets.share(rate=10.0, burst=7, workers=2) for _ in range(2)]
    assert [(s.rate, s.burst) for s in shares] == [(5.0, 3), (5.0, 3)]
    allowed = sum(s.take_now("airline", now=0.0) == 0.0 for s in shares for _ in range(10))
    assert allowed == 6  # never more than the burst of 7 together


@pytest.mark.slow
@pytest.mark.parametrize("shared", [True, False], ids=["redis", "divided"])
def test_serve_with_two_workers_holds_one_limit(tmp_path: Path, shared: bool) -> None:
    db = tmp_path / "ledger.db"
    env = {**os.environ, "XINYONG_DATABASE_URL": new_ledger(f"sqlite:///{db}")}

    def cli(*args: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "xinyong", *args],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    cli("scheme", "add", str(SCHEME), *override_args(SCHEME))
    cli("relying", "add", "airline", "--measure", "restrict-flights", "--purpose", "tickets")
    token = cli("keys", "create", "--role", "relying", "--name", "airline")
    settings = tmp_path / "service.toml"
    settings.write_text("rate_per_second = 0.001\nburst = 4\n", encoding="utf-8")
    # Shared: Redis and a burst of 2 by flags, over the file's 4: serve hands them to its workers.
    flags = ["--set", f"redis_url={REDIS}", "--set", "burst=2"] if shared else []
    port = free_port()
    server = start_serve(
        env, port, "--workers", "2", "--settings", str(settings), *flags, "--no-worker"
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(server, lambda: ready(port), "serve answers")
        statuses: Counter[int] = Counter()
        for _ in range(24):  # a new connection each time: the kernel spreads them over workers
            answer = httpx.get(
                f"{base}/v1/checks",
                params={"subject": PERSON, "measure": "restrict-flights"},
                headers={"Authorization": f"Bearer {token}", "Connection": "close"},
            )
            statuses[answer.status_code] += 1
        assert set(statuses) <= {200, 429}, statuses
        if shared:  # exactly the burst the flag set, wherever the checks landed
            assert statuses[200] == 2, statuses
        else:  # each worker has half the burst: never more than the limit together
            assert 2 <= statuses[200] <= 4, statuses
    finally:
        stop_serve(server)
