"""Decision ids: UUID version 7 (RFC 9562), ordered by the time they are made.

Every check writes one inquiry row keyed by its decision id. A random (version 4) id lands on a
random page of the primary-key index, so a group commit of a few dozen checks rewrites a few dozen
index pages; ids that grow with time are appended to the index's last page instead. The 74 random
bits keep ids unguessable; the millisecond in front reveals nothing the inquiry's own ``made_at``
does not.
"""

from __future__ import annotations

import os
import time

__all__ = ["new_decision_id"]

_VERSION = 0x7 << 76
_VARIANT = 0x2 << 62
_RANDOM = (1 << 80) - 1 & ~(0xF << 76) & ~(0x3 << 62)


def new_decision_id() -> str:
    """A fresh UUIDv7 in the canonical 8-4-4-4-12 hexadecimal form."""
    millis = time.time_ns() // 1_000_000 & ((1 << 48) - 1)
    value = millis << 80 | int.from_bytes(os.urandom(10), "big") & _RANDOM | _VERSION | _VARIANT
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
