"""The activation gate: guardrail findings, and the overrides that let a scheme past them.

A scheme with lint errors never scores. A scheme with guardrail findings (a protected
characteristic, a sanction from a bare score or without a legal basis, a penalty without expiry, a
peer score without seeds or weighted by status, a gate with no path back) is not activated unless
an operator overrides every finding with a reason and the name of the official responsible.
:mod:`xinyong.scoring.store` records each override in the ledger; the scheme's public page, the
transparency report and every check decided under that version show it.

An override names a finding by its check (``bare-score-sanction``: every finding of that check)
or by its reference (``bare-score-sanction@measures.rail_ban.grades``: that one finding).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from xinyong.domain.identifiers import IdentifierRefused, canonical_subject_id
from xinyong.domain.text import text_problem
from xinyong.i18n import N_
from xinyong.schemes.issues import Issue, Severity
from xinyong.schemes.lint import names_nothing

__all__ = [
    "GUARDRAILS",
    "MAX_OFFICIAL",
    "MAX_REASON",
    "Override",
    "OverrideError",
    "guardrail_findings",
    "make_override",
    "match_overrides",
    "parse_override",
]

GUARDRAILS: Mapping[str, str] = MappingProxyType(
    {
        "protected-attribute": N_("A rule scores a protected attribute"),
        "bare-score-sanction": N_("A sanction punishes a bare score"),
        "sanction-without-basis": N_("A sanction names no legal basis"),
        "no-expiry": N_("A record counts against people without end"),
        "no-seeds": N_("Peer trust with no trusted seeds"),
        "status-weighting": N_("Ratings weighted by the rater's own score"),
        "gate-without-path-back": N_("A peer-score gate with no way back"),
    }
)
"""The lint checks a scheme may be activated despite, only with an override on the record, each
with its title as the public reads it (translated where shown; a finding's own message, with
the names it gives, is kept as it was recorded)."""


MAX_REASON = 2000
MAX_OFFICIAL = 128


class OverrideError(ValueError):
    """An override that cannot be recorded: no reason, no official, or no such finding."""


@dataclass(frozen=True, slots=True)
class Override:
    """An operator's decision to activate a scheme despite a guardrail finding."""

    finding: str
    """A check (every finding of it) or a finding's ``check@where`` reference."""
    reason: str
    official: str
    """The name of the official responsible for the decision."""

    def covers(self, issue: Issue) -> bool:
        """Whether this override names ``issue``."""
        return self.finding in (issue.check, issue.ref)


def guardrail_findings(issues: Iterable[Issue]) -> list[Issue]:
    """The findings that need an override to activate (warnings of a guardrail check)."""
    return [i for i in issues if i.severity is Severity.WARNING and i.check in GUARDRAILS]


def make_override(finding: str, reason: str, official: str) -> Override:
    """An override with its fields checked and trimmed (:class:`OverrideError` says why not):
    the same for the CLI and the API."""
    finding, reason, official = finding.strip(), _visible(reason), _visible(official)
    check = finding.partition("@")[0]
    if check not in GUARDRAILS:
        known = ", ".join(sorted(GUARDRAILS))
        raise OverrideError(
            f"override {finding!r}: not a guardrail finding (an override names one of {known}, "
            "optionally with @WHERE as the finding lists it)"
        )
    for name, value, limit in (
        ("reason", reason, MAX_REASON),
        ("official", official, MAX_OFFICIAL),
    ):
        if not value:
            raise OverrideError(f"override {finding!r}: the {name} is empty")
        if len(value) > limit:
            raise OverrideError(f"override {finding!r}: the {name} is over {limit} characters")
        problem = text_problem(value)
        if problem is not None:
            raise OverrideError(f"override {finding!r}: the {name} has a {problem}")
        if names_nothing(value) or not any(char.isalpha() for char in value):
            raise OverrideError(f"override {finding!r}: the {name} {value!r} says nothing")
        if _names_a_subject(value):
            raise OverrideError(
                f"override {finding!r}: the {name} contains a resident ID or a USCC; an "
                "override is published and kept for good, so name no subject in it"
            )
    return Override(finding, reason, official)


_ID_LIKE = re.compile(r"[0-9A-Za-z]{18}")


def _names_a_subject(text: str) -> bool:
    """Whether ``text`` contains a valid resident ID or USCC (a canonical subject id that is
    not an external one)."""
    for token in _ID_LIKE.findall(unicodedata.normalize("NFKC", text)):
        try:
            canonical_subject_id(token)
        except IdentifierRefused:
            continue
        return True
    return False


def _visible(text: str) -> str:
    """``text`` without format characters (zero-width spaces, direction marks) and without
    white space at either end: what a reader of the public page sees."""
    return "".join(c for c in text if unicodedata.category(c) != "Cf").strip()


def parse_override(text: str, official: str) -> Override:
    """``FINDING=REASON`` as given on the command line, for ``official``."""
    finding, equals, reason = text.partition("=")
    if not equals:
        raise OverrideError(f"override {text!r}: write FINDING=REASON")
    return make_override(finding, reason, official)


def match_overrides(
    findings: Sequence[Issue], overrides: Sequence[Override]
) -> tuple[list[tuple[Issue, Override]], list[Issue]]:
    """Each finding with the first override naming it, and the findings none names.

    An override that names no finding is refused: a typo must not pass for a decision.
    """
    for override in overrides:
        if not any(override.covers(issue) for issue in findings):
            refs = ", ".join(sorted({i.ref for i in findings})) or "none"
            raise OverrideError(
                f"override {override.finding!r} names no finding of this scheme (its findings: "
                f"{refs})"
            )
    covered: list[tuple[Issue, Override]] = []
    uncovered: list[Issue] = []
    for issue in findings:
        chosen = next((o for o in overrides if o.covers(issue)), None)
        if chosen is None:
            uncovered.append(issue)
        else:
            covered.append((issue, chosen))
    return covered, uncovered
