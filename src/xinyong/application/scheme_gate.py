"""Adding a scheme version and making it active, through the gate, as the CLI (``xinyong scheme
add`` and ``activate``) and the API (``POST /v1/schemes`` and ``/v1/schemes/{id}/activate``)
both do it: in one write transaction, so that a version the gate refuses is not stored either.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import Engine

from xinyong.domain.catalog import Catalog
from xinyong.ledger.database import WRITE_LOCK
from xinyong.schemes.load import LoadedScheme
from xinyong.schemes.overrides import Override, OverrideError
from xinyong.scoring.store import RecordedOverride, activate_scheme, add_scheme

__all__ = ["store_and_activate"]


def store_and_activate(
    engine: Engine,
    loaded: LoadedScheme | None,
    scheme_id: str,
    version: str,
    *,
    activate: bool,
    catalog: Catalog,
    overrides: Sequence[Override],
    operator: str,
    today: date,
) -> tuple[bool, list[RecordedOverride]]:
    """Store ``loaded`` (when given) and, with ``activate``, make ``version`` of ``scheme_id``
    active under ``overrides``; return whether the version was new and the overrides recorded.

    Refused as :func:`~xinyong.scoring.store.activate_scheme` refuses (SchemeRefused,
    GuardrailsUnmet, MeasureTaken, UnknownScheme, OverrideError), and OverrideError for
    overrides given without activating; then nothing is stored.
    """
    if overrides and not activate:
        raise OverrideError("overrides are given when activating, and this does not activate")
    with engine.connect().execution_options(**WRITE_LOCK) as conn, conn.begin():
        added = False
        if loaded is not None:
            added = add_scheme(conn, loaded, activate=False, catalog=catalog)
        recorded: list[RecordedOverride] = []
        if activate:
            recorded = activate_scheme(
                conn,
                scheme_id,
                version,
                catalog=catalog,
                overrides=overrides,
                operator=operator,
                today=today,
            )
        return added, recorded
