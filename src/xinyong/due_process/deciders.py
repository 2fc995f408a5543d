"""Who decides an appeal, told apart from who made the decision appealed (kept apart from
:mod:`~xinyong.due_process.appeals` so that the keys' module can name it without importing the
scoring stack)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

__all__ = ["Decider"]


def _same(actor: str) -> str:
    """An actor as compared: NFKC, case-folded, spaces collapsed."""
    return " ".join(unicodedata.normalize("NFKC", actor).casefold().split())


@dataclass(frozen=True, slots=True)
class Decider:
    """The operator deciding an appeal: the name on their key and the key."""

    name: str
    key_id: str

    @property
    def actor(self) -> str:
        """As decisions record it."""
        return f"operator:{self.name or self.key_id}"

    def made(self, decided_by: str) -> bool:
        """Whether this operator made a decision recorded as ``decided_by``."""
        mine = {_same(f"operator:{self.key_id}")}
        if self.name:
            mine.add(_same(f"operator:{self.name}"))
        return _same(decided_by) in mine
