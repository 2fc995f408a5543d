"""Why an input row was refused: the field at fault and what is wrong with it."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RowProblem"]


@dataclass(frozen=True, slots=True)
class RowProblem:
    """Why a row was rejected: the field at fault and what is wrong with it."""

    field: str
    reason: str
