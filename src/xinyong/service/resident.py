"""Keeping a SQLite ledger's files in memory while the service runs.

A check reads a few pages at random places of the ledger (a subject's stored standing, its
newest records) and logs itself in the inquiry log's file. A page the operating system no longer
caches is read from disk, on the event loop, while every other check waits; with records being
appended at the same time that read took tens of milliseconds here. Plenty of free memory does
not prevent it: kernels may evict file pages that nobody has used for a while (this machine's
runs DAMON's reclaim, which pages out file data not touched for about a minute unless a process
has it mapped).

So the service maps both files read-only into its own memory, and every :data:`REFRESH_SECONDS`
maps what they grew by. Mapped pages are not what such reclaim evicts, and under real memory
pressure the kernel still reclaims them like any cache: nothing is locked. The files are read
into the cache with ``pread`` on a thread (no interpreter lock held while the disk works) and the
mapping is filled with ``MADV_POPULATE_READ``, so the mapping is never touched from Python and a
file truncated meanwhile cannot crash the process. Files that together exceed
:data:`MAX_FRACTION` of the machine's memory are left to the cache as before.
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import os
import threading
from collections.abc import Sequence
from pathlib import Path

__all__ = ["MAX_FRACTION", "REFRESH_SECONDS", "ResidentFiles"]

log = logging.getLogger("xinyong.resident")

REFRESH_SECONDS = 30.0
"""How often the files are looked at again for growth (records appended, checks logged)."""
MAX_FRACTION = 0.5
"""The most of the machine's memory the mapped files may take together."""
_CHUNK = 4 << 20
_POPULATE_READ = getattr(mmap, "MADV_POPULATE_READ", 22)  # Linux 5.14


class ResidentFiles:
    """Maps files into this process and keeps them mapped, growing with them, until stopped."""

    def __init__(self, paths: Sequence[Path], max_bytes: int | None = None) -> None:
        self.paths = list(paths)
        if max_bytes is None:
            max_bytes = int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") * MAX_FRACTION)
        self.max_bytes = max_bytes
        self._maps: dict[Path, list[mmap.mmap]] = {path: [] for path in self.paths}
        self._sizes: dict[Path, int] = dict.fromkeys(self.paths, 0)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._warned = False

    @property
    def resident_bytes(self) -> int:
        """How much of the files is mapped now."""
        return sum(self._sizes.values())

    def start(self) -> None:
        """Map the files on a thread now and keep them mapped (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="xinyong-resident", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop following the files and unmap them."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        for maps in self._maps.values():
            for region in maps:
                region.close()
            maps.clear()
        self._sizes = dict.fromkeys(self.paths, 0)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.refresh()
            except Exception:  # keep serving: an unmapped page is only slower
                log.exception("could not keep the ledger's files in memory")
            self._stop.wait(REFRESH_SECONDS)

    def refresh(self) -> None:
        """Map what the files grew by since the last call (all of them at first)."""
        sizes = {}
        for path in self.paths:
            with contextlib.suppress(FileNotFoundError):
                sizes[path] = path.stat().st_size
        if sum(sizes.values()) > self.max_bytes:
            if not self._warned:
                log.warning(
                    "the ledger's files (%d MB) exceed %d MB: left to the page cache",
                    sum(sizes.values()) >> 20,
                    self.max_bytes >> 20,
                )
                self._warned = True
            return
        for path, size in sizes.items():
            if self._stop.is_set():
                return
            if size < self._sizes[path]:  # truncated (a vacuum): map it again from the start
                for region in self._maps[path]:
                    region.close()
                self._maps[path].clear()
                self._sizes[path] = 0
            self._extend(path, size)

    def _extend(self, path: Path, size: int) -> None:
        start = self._sizes[path] - self._sizes[path] % mmap.ALLOCATIONGRANULARITY
        if size <= start or size == self._sizes[path]:
            return
        fd = os.open(path, os.O_RDONLY)
        try:
            region = mmap.mmap(fd, size - start, access=mmap.ACCESS_READ, offset=start)
            for offset in range(0, size - start, _CHUNK):
                if self._stop.is_set():
                    break
                length = min(_CHUNK, size - start - offset)
                os.pread(fd, length, start + offset)  # into the cache, without the GIL
                try:
                    region.madvise(_POPULATE_READ, offset, length)
                except OSError:  # past a new end of file, or an older kernel: leave it
                    break
        finally:
            os.close(fd)
        self._maps[path].append(region)
        self._sizes[path] = size
