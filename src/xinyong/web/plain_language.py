"""A scheme in plain words, generated from the scheme itself (never written by hand, so it
cannot drift from what the evaluator does; ``docs/schemes.md`` gives the exact semantics).

Every sentence is built from one field of the scheme: points and what they apply to, how long
a record counts and whether it fades, caps, what clears a record, vetoes on the grade, the grade
bands, who is on each list and which measures follow.
"""

from __future__ import annotations

from typing import Any

from xinyong.domain.catalog import Catalog
from xinyong.domain.durations import format_days
from xinyong.schemes.model import Grade, ListDef, Measure, Rule, Scheme

__all__ = [
    "describe_scheme",
    "duration_words",
    "grade_words",
    "list_words",
    "measure_words",
    "rule_words",
]

_UNITS = {"d": "day", "w": "week", "m": "month", "y": "year"}


def duration_words(days: int) -> str:
    """``1095`` -> ``3 years`` (the scheme language's units: a month is 30 days, a year 365)."""
    text = format_days(days)
    count, unit = int(text[:-1]), text[-1]
    return f"{count} {_UNITS[unit]}{'' if count == 1 else 's'}"


def _points(value: float) -> str:
    return f"{value:g} point{'' if abs(value) == 1 else 's'}"


def _what(rule: Rule, catalog: Catalog | None) -> str:
    if rule.match == "*":
        return "Every record"
    if rule.match.endswith(".*"):
        return f"Every record whose code starts with “{rule.match[:-1]}”"
    entry = catalog.get(rule.match) if catalog is not None else None
    described = f"“{entry.description}” ({rule.match})" if entry else f"“{rule.match}”"
    return f"Every record of {described}"


def rule_words(rule: Rule, catalog: Catalog | None) -> str:
    """What a rule does, in plain words."""
    parts = [_what(rule, catalog)]
    if rule.when:
        parts.append(f" for which {rule.when}")
    if rule.points < 0:
        parts.append(f" takes away {_points(-rule.points)}")
    elif rule.points > 0:
        parts.append(f" adds {_points(rule.points)}")
    else:
        parts.append(" counts without points")
    if rule.valid_days is not None:
        parts.append(f"; it counts for {duration_words(rule.valid_days)} after the day it happened")
        if rule.decay == "linear":
            parts.append(", weighing less and less until then")
    else:
        parts.append("; the scheme sets no time limit (the record's display period still ends it)")
    parts.append(".")
    if rule.cap is not None:
        parts.append(f" At most {_points(rule.cap)} in all come from this rule.")
    if rule.cleared_by:
        codes = ", ".join(f"“{code}”" for code in rule.cleared_by)
        parts.append(f" A later record of {codes} in the same case ends it.")
    if rule.veto:
        parts.append(f" While such a record counts, the grade can be no better than {rule.veto}.")
    return "".join(parts)


def grade_words(grades: tuple[Grade, ...], index: int) -> str:
    """The score band of one grade."""
    grade = grades[index]
    above = grades[index - 1].min if index > 0 else None
    if grade.min is None:
        return f"below {above:g} points" if above is not None else "every score"
    if above is None:
        return f"{grade.min:g} points or more"
    return f"from {grade.min:g} to below {above:g} points"


def list_words(lst: ListDef, grace_days: int) -> str:
    """Who is on a list and whether it is published."""
    who = []
    if lst.grades:
        who.append("everyone graded " + " or ".join(lst.grades))
    if lst.rules:
        who.append("everyone with a counting record of the rules " + ", ".join(lst.rules))
    members = " and ".join(who) if who else "nobody (the list names no grade and no rule)"
    kind = "Black list (sanctions)" if lst.kind == "black" else "Red list (rewards)"
    published = (
        f"Published {grace_days} days after the listed person or organization is given notice, "
        "with identifiers masked."
        if lst.disclose
        else "Not published."
    )
    return f"{kind}: {members}. {published}"


def measure_words(measure: Measure) -> str:
    """What a measure does, to whom, on what legal basis."""
    kind = "Sanction" if measure.kind == "sanction" else "Reward"
    whom = [f"members of {', '.join(measure.lists)}"] if measure.lists else []
    if measure.grades:
        whom.append("everyone graded " + " or ".join(measure.grades))
    applies = " and ".join(whom) or "nobody"
    basis = measure.basis or "none given in the scheme"
    what = measure.description or measure.id
    return f"{kind}: {what}. It applies to {applies}. Legal basis: {basis}."


def describe_scheme(
    scheme: Scheme, catalog: Catalog | None, grace_days: int, objection_days: int
) -> dict[str, Any]:
    """The whole scheme in plain words, as the page and its JSON twin show it."""
    bounds = []
    if scheme.floor is not None:
        bounds.append(f"never goes below {scheme.floor:g}")
    if scheme.ceiling is not None:
        bounds.append(f"never goes above {scheme.ceiling:g}")
    kinds = " and ".join(
        "people" if kind == "person" else "organizations" for kind in scheme.subject_kinds
    )
    start = f"It scores {kinds}. Everyone starts at {_points(scheme.base)}"
    summary = start + (f"; the score {' and '.join(bounds)}." if bounds else ".")
    days = min([objection_days, *([scheme.objection_days] if scheme.objection_days else [])])
    return {
        "scheme": scheme.id,
        "name": scheme.name,
        "description": scheme.description,
        "summary": summary,
        "objection_days": days,
        "grades": [
            {"grade": g.name, "band": grade_words(scheme.grades, i), "description": g.description}
            for i, g in enumerate(scheme.grades)
        ],
        "rules": [
            {
                "rule": r.id,
                "points": r.points,
                "words": rule_words(r, catalog),
                "description": r.description,
            }
            for r in scheme.rules
        ],
        "lists": [
            {
                "list": lst.id,
                "kind": lst.kind,
                "disclosed": lst.disclose,
                "words": list_words(lst, grace_days),
                "description": lst.description,
            }
            for lst in scheme.lists
        ],
        "measures": [
            {
                "measure": m.id,
                "kind": m.kind,
                "words": measure_words(m),
                "basis": m.basis,
            }
            for m in scheme.measures
        ],
    }
