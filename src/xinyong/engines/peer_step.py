"""The peer step of a scheme with ``[peer]``: its rating records in, peer scores out, as Arrow.

Written once for every engine: the engines differ only in how they select the rating records
(:data:`~xinyong.domain.peer_records.PEER_CODES`) and where the scores go afterwards.
"""

from __future__ import annotations

from datetime import date

import pyarrow as pa

from xinyong.schemes.model import Scheme

__all__ = ["peer_scores_of"]


def peer_scores_of(scheme: Scheme, ratings: pa.Table, as_of: date) -> pa.Table:
    """``subject_id, peer_score`` of ``scheme`` (which has ``[peer]``) from its rating records."""
    if scheme.peer is None:
        raise ValueError(f"scheme {scheme.id} has no [peer] section")
    # Imported here: SciPy costs a scheme without [peer] a fifth of a second at start.
    from xinyong.peer.algorithms import peer_scores_from_table

    return peer_scores_from_table(scheme.peer, ratings, scheme.subject_kinds, as_of).table()
