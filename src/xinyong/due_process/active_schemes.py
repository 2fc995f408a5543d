"""The scheme versions in force, as a due-process notice about one record names them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection

from xinyong.decisions.standing import standing_of
from xinyong.domain.catalog import Catalog
from xinyong.ledger.append import read_size
from xinyong.schemes.load import LoadedScheme

__all__ = ["ActiveSchemes"]


@dataclass(frozen=True, slots=True)
class ActiveSchemes:
    """The scheme versions in force and the catalog: what a notice about one record needs to
    name the rules the record counts under."""

    schemes: Sequence[LoadedScheme]
    catalog: Catalog | None

    def record_effect(
        self, conn: Connection, subject_id: str, record_key: str, today: date
    ) -> list[dict[str, Any]]:
        """Per active scheme whose rules see the record: the version, the rules and what the
        record contributed, and the subject's grade, lists and measures, as of ``today``."""
        size = read_size(conn)
        effects = []
        for loaded in self.schemes:
            explanation = standing_of(
                conn, loaded, subject_id, today, size, self.catalog
            ).explanation
            if explanation is None:
                continue
            seen = [c for c in explanation.records if c.record.key == record_key]
            if not seen:
                continue
            effects.append(
                {
                    "scheme": loaded.scheme.id,
                    "version": loaded.version,
                    "rules": [
                        {
                            "rule": c.rule_id,
                            "counted": c.counted,
                            "contribution": round(c.contribution, 2),
                        }
                        for c in seen
                    ],
                    "grade": explanation.standing.grade,
                    "lists": list(explanation.standing.lists),
                    "measures": list(explanation.standing.measures),
                }
            )
        return effects

    def standings(
        self, conn: Connection, subject_id: str, today: date, scheme_ids: Sequence[str]
    ) -> list[dict[str, Any]]:
        """The subject's grade, lists and measures under the named active schemes, now."""
        size = read_size(conn)
        found = []
        for loaded in self.schemes:
            if loaded.scheme.id not in scheme_ids:
                continue
            explanation = standing_of(
                conn, loaded, subject_id, today, size, self.catalog
            ).explanation
            if explanation is not None:
                found.append(
                    {
                        "scheme": loaded.scheme.id,
                        "version": loaded.version,
                        "grade": explanation.standing.grade,
                        "lists": list(explanation.standing.lists),
                        "measures": list(explanation.standing.measures),
                    }
                )
        return found
