"""xinyong (信用): an open, auditable social credit engine with due process by construction."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
