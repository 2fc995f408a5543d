"""Storing the test schemes that list people by grade on purpose (``tests/data/example_scheme.toml``
puts grade D on its black list, which the activation gate reports as a bare-score sanction):
through the gate, with every guardrail finding overridden on the record, as an operator would."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection

from xinyong.domain.catalog import Catalog
from xinyong.schemes.lint import lint
from xinyong.schemes.load import LoadedScheme, load_scheme, parse_scheme
from xinyong.schemes.overrides import Override, guardrail_findings, make_override
from xinyong.scoring.store import add_scheme

OFFICIAL = "Wang Fang, head of the test bureau"
REASON = "a test fixture that lists by grade on purpose"


def overrides_for(loaded: LoadedScheme, catalog: Catalog | None = None) -> list[Override]:
    """An override of every guardrail finding of ``loaded``."""
    findings = guardrail_findings(lint(loaded, catalog))
    return [make_override(ref, REASON, OFFICIAL) for ref in dict.fromkeys(f.ref for f in findings)]


def add_overridden(
    conn: Connection, loaded: LoadedScheme, activate: bool = True, catalog: Catalog | None = None
) -> bool:
    """:func:`add_scheme`, activating despite the scheme's guardrail findings."""
    overrides = overrides_for(loaded, catalog) if activate else []
    return add_scheme(conn, loaded, activate, catalog=catalog, overrides=overrides)


def override_args(path: Path) -> list[str]:
    """The ``scheme add`` / ``scheme activate`` options that override every finding."""
    args = [f"--override={o.finding}={o.reason}" for o in overrides_for(load_scheme(path))]
    return [*args, f"--official={OFFICIAL}"] if args else []


def overridden_body(text: str) -> dict[str, object]:
    """``POST /v1/schemes`` as JSON: the scheme and an override of each of its findings."""
    overrides = overrides_for(parse_scheme(text))
    return {
        "source": text,
        "overrides": [
            {"finding": o.finding, "reason": o.reason, "official": o.official} for o in overrides
        ],
    }
