"""The bundled pilot schemes: declarative TOML files that model real social credit schemes.

Each file is a scheme in the language of ``docs/schemes.md`` and starts with a header comment
saying which real scheme it models, where the facts come from (``shared/docs/DOMAIN.md``) and
which values are example values (marked **UNSOURCED** where no primary source confirmed them).

- ``rongcheng``: Rongcheng-style citizen points (persons, base 1000, grades AAA to D);
- ``judgment-defaulters``: the Supreme People's Court list of judgment defaulters and the nine
  high-consumption restrictions;
- ``tax-credit``: the enterprise tax credit rating (A/B/C/D, direct D for serious evasion);
- ``xiamen-egret`` and ``fuzhou-jasmine``: 0-1000 city scores with incentives only;
- ``nosedive-gate``: the fiction of Black Mirror's "Nosedive", a 0-5 peer score gating a flight
  (4.2) and a housing discount (4.5), computed with EigenTrust and safeguards.

Every pilot loads, lints without errors or guardrail warnings, and is checked against a worked
example computed by hand in ``tests/pilots/test_pilots.py``.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["PILOTS_DIR", "bundled_pilots"]

PILOTS_DIR = Path(__file__).resolve().parent
"""The folder holding the bundled ``*.toml`` pilot files."""


def bundled_pilots() -> dict[str, Path]:
    """Map each bundled pilot's id (its file stem) to its path, sorted by id."""
    return {path.stem: path for path in sorted(PILOTS_DIR.glob("*.toml"))}
