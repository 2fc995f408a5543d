"""One scheme per guardrail finding: a lawful scheme, and variants of it that each break exactly
one guardrail (the activation gate's tests run every one through the CLI and the API)."""

from __future__ import annotations

from xinyong.pilots import bundled_pilots

LAWFUL = """\
id = "gate-test"
name = "Activation gate test"
subject_kinds = ["person"]
base = 100

[[grades]]
name = "A"
min = 90

[[grades]]
name = "D"

[[rules]]
id = "court"
match = "court.defaulter"
points = -50
valid_for = "2y"

[[lists]]
id = "defaulters"
kind = "black"
rules = ["court"]

[[measures]]
id = "gate-no-flights"
kind = "sanction"
lists = ["defaulters"]
description = "No purchase of flight tickets"
basis = "SPC Provisions on restricting high consumption (2015), Art. 3"
"""

_PEER = bundled_pilots()["nosedive-gate"].read_text(encoding="utf-8")


def _replaced(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


FINDINGS: dict[str, str] = {
    "protected-attribute": _replaced(
        LAWFUL, 'valid_for = "2y"\n', 'valid_for = "2y"\nwhen = "minzu_code = \'x\'"\n'
    ),
    "bare-score-sanction": _replaced(LAWFUL, 'lists = ["defaulters"]', 'grades = ["D"]'),
    "sanction-without-basis": _replaced(
        LAWFUL,
        'basis = "SPC Provisions on restricting high consumption (2015), Art. 3"',
        'basis = "n/a"',
    ),
    "no-expiry": _replaced(LAWFUL, 'valid_for = "2y"\n', ""),
    "status-weighting": _PEER[: _PEER.index("[peer]")]
    + '[peer]\nalgorithm = "nosedive"\nweight = 1\nvalid_for = "30d"\nprior = 4.3\n',
    "no-seeds": _replaced(_PEER, 'seeds = ["town-01", "town-02", "town-03"]\n', ""),
    "gate-without-path-back": _replaced(_PEER, 'valid_for = "30d"\n', ""),
}
"""Guardrail check -> a scheme whose only guardrail findings are of that check."""

FOREVER = _replaced(LAWFUL, 'valid_for = "2y"\n', 'valid_for = "100y"\n')
"""A penalty "valid" for a century: no expiry, and longer than the catalog shows the record (an
error: never stored)."""
