"""The records a scheme reads: the codes whose records can change a standing under it.

A record whose code no rule matches or clears, that eligibility does not read (consent), that
no peer section rates with, and that is not a relation (a measure may extend to the people a
relation names), changes no score, grade, list or measure under the scheme
(docs/schemes.md sections 2 and 3). The refresh after a batch of records leaves out the
subjects it cannot have changed (:func:`xinyong.application.changes.after_records`).
"""

from __future__ import annotations

from xinyong.domain.peer_records import PEER_CODES
from xinyong.domain.relations import RELATION_PREFIX
from xinyong.schemes.eligibility import eligibility_codes
from xinyong.schemes.model import Scheme

__all__ = ["reads_code"]


def reads_code(scheme: Scheme, code: str) -> bool:
    """Whether a record with ``code`` can change a standing under ``scheme`` (conservative:
    True whenever the scheme looks at the code at all)."""
    if code.startswith(RELATION_PREFIX):
        return True
    if scheme.peer is not None and code in PEER_CODES:
        return True
    if code in eligibility_codes(scheme):
        return True
    return any(rule.matches(code) or code in rule.cleared_by for rule in scheme.rules)
