"""The service keeps a SQLite ledger's files mapped: all of them, what they grow by, a file
truncated under it without harm, and nothing over the memory budget."""

from __future__ import annotations

import time
from pathlib import Path

from xinyong.service.resident import ResidentFiles


def _mapped(path: Path) -> int:
    """Bytes of ``path`` mapped into this process (from /proc/self/maps)."""
    total = 0
    for line in Path("/proc/self/maps").read_text().splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and fields[5] == str(path):
            start, end = (int(x, 16) for x in fields[0].split("-"))
            total += end - start
    return total


def test_files_are_mapped_as_they_grow_and_shrink(tmp_path: Path) -> None:
    ledger, log = tmp_path / "ledger.db", tmp_path / "ledger-inquiries.db"
    ledger.write_bytes(b"L" * 3 * 4096 * 1024)  # 12 MiB: several populate chunks
    log.write_bytes(b"I" * 10_000)
    resident = ResidentFiles([ledger, log])
    try:
        resident.refresh()
        assert resident.resident_bytes == 3 * 4096 * 1024 + 10_000
        assert _mapped(ledger) >= ledger.stat().st_size
        assert _mapped(log) >= log.stat().st_size

        with log.open("ab") as f:
            f.write(b"J" * 50_000)
        resident.refresh()
        assert resident.resident_bytes == 3 * 4096 * 1024 + 60_000
        assert _mapped(log) >= 60_000

        log.write_bytes(b"K" * 100)  # truncated: mapped again from the start, no SIGBUS
        resident.refresh()
        assert resident.resident_bytes == 3 * 4096 * 1024 + 100
    finally:
        resident.stop()
    assert _mapped(ledger) == 0
    assert _mapped(log) == 0


def test_files_over_the_budget_are_left_alone(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.db"
    ledger.write_bytes(b"L" * 100_000)
    resident = ResidentFiles([ledger, tmp_path / "missing.db"], max_bytes=50_000)
    try:
        resident.refresh()
        assert resident.resident_bytes == 0
        assert _mapped(ledger) == 0
    finally:
        resident.stop()


def test_the_thread_maps_and_stops(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.db"
    ledger.write_bytes(b"L" * 100_000)
    resident = ResidentFiles([ledger])
    resident.start()
    try:
        for _ in range(200):
            if resident.resident_bytes:
                break
            time.sleep(0.01)
        assert resident.resident_bytes == 100_000
    finally:
        resident.stop()
    assert _mapped(ledger) == 0
