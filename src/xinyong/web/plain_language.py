"""A scheme in plain words, generated from the scheme itself (never written by hand, so it
cannot drift from what the evaluator does; ``docs/schemes.md`` gives the exact semantics).

Every sentence is built from one field of the scheme: points and what they apply to, how long
a record counts and whether it fades, caps, what clears a record, vetoes on the grade, the grade
bands, who is on each list and which measures follow; for a scheme with a ``[peer]`` table, how
ratings make the peer score (the algorithm, smoothing, how long a rating counts, the safeguards).
"""

from __future__ import annotations

from typing import Any

from xinyong.domain.catalog import Catalog
from xinyong.domain.durations import format_days, parse_term
from xinyong.domain.relations import ROLE_WORDS
from xinyong.schemes.model import (
    Grade,
    ListDef,
    Measure,
    PeerSection,
    Rule,
    Safeguards,
    Scheme,
    TermFrom,
)

__all__ = [
    "describe_scheme",
    "duration_words",
    "grade_words",
    "list_words",
    "measure_words",
    "peer_words",
    "points_shown",
    "rule_words",
]

_UNITS = {"d": "day", "w": "week", "m": "month", "y": "year"}


def duration_words(days: int) -> str:
    """``1095`` -> ``3 years`` (the scheme language's units: a month is 30 days, a year 365)."""
    text = format_days(days)
    count, unit = int(text[:-1]), text[-1]
    return f"{count} {_UNITS[unit]}{'' if count == 1 else 's'}"


def _term_words(text: str) -> str:
    """A term as the scheme writes it, in words: ``730d`` -> ``730 days``, ``2y`` -> ``2 years``
    (a calendar term is not a number of days)."""
    clean = parse_term(text).text
    count, unit = int(clean[:-1]), clean[-1]
    return f"{count} {_UNITS[unit]}{'' if count == 1 else 's'}"


def _points(value: float) -> str:
    return f"{value:g} point{'' if abs(value) == 1 else 's'}"


def points_shown(rule: Rule) -> float | dict[str, Any]:
    """A rule's ``points`` as the scheme file gives them (a number, or ``per``, ``each`` and
    ``max_units``)."""
    return rule.points if isinstance(rule.points, float) else rule.points.model_dump()


def _points_words(rule: Rule) -> str:
    each = rule.unit_points
    if each == 0:
        return " counts without points"
    verb = "takes away" if each < 0 else "adds"
    if isinstance(rule.points, float):
        return f" {verb} {_points(abs(each))}"
    most = rule.points.max_units
    per = rule.points.per
    return f" {verb} {_points(abs(each))} for each unit of its “{per}”, for at most {most:g}"


def _term_from_words(spec: TermFrom) -> str:
    return (
        f"; it counts for the number of {_UNITS[spec.unit]}s its “{spec.attr}” gives (at most "
        f"{_term_words(spec.max)}; {_term_words(spec.default)} when it gives none) after the "
        "day it happened"
    )


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
    parts.append(_points_words(rule))
    if rule.valid_for is not None:
        if isinstance(rule.valid_for, TermFrom):
            parts.append(_term_from_words(rule.valid_for))
        else:
            parts.append(f"; it counts for {_term_words(rule.valid_for)} after the day it happened")
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
    if rule.grade:
        parts.append(f" While such a record counts, the grade is {rule.grade}, whatever the score.")
    return "".join(parts)


def grade_words(grades: tuple[Grade, ...], index: int) -> str:
    """The score band of one grade."""
    grade = grades[index]
    if grade.assigned:
        return "given by a record, not by the score"
    above = next((g.min for g in reversed(grades[:index]) if not g.assigned), None)
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
    reach = ""
    if measure.extends_to:
        roles = " and ".join(ROLE_WORDS[role] for role in measure.extends_to)
        reach = f" It also applies to the {roles} of an organisation it applies to."
    return f"{kind}: {what}. It applies to {applies}.{reach} Legal basis: {basis}."


def _share(value: float) -> str:
    return "none" if value == 0 else f"{value:.0%}"


def _weighting(section: PeerSection) -> str:
    name = f"Algorithm “{section.algorithm}”: "
    if section.algorithm == "bayesian":
        return name + "every rating weighs the same, whoever gives it."
    if section.algorithm == "nosedive":
        return name + (
            "a rating weighs as much as the rater's own peer score, so highly rated people's "
            "ratings count more and a falling score takes its holder's voice with it (the "
            "mechanism of the series “Nosedive”)."
        )
    seeds = len(section.seeds)
    start = (
        f"the {seeds} pre-trusted account{'' if seeds == 1 else 's'} the scheme names"
        if seeds
        else "everyone alike (the scheme names no pre-trusted account)"
    )
    nobody = " A rater nobody trusts rates without weight." if seeds else ""
    return name + (
        "a rating weighs as much as the trust its rater has earned: trust starts from "
        f"{start} and flows to the people they rate well, and on from them; at every step "
        f"{section.damping:.0%} of it returns to where it started.{nobody}"
    )


def _smoothing(section: PeerSection) -> str:
    prior = f"{section.prior:g} stars"
    if section.min_ratings == 0:
        return (
            f"The peer score is the weighted average of the stars received; someone nobody "
            f"rated has {prior}."
        )
    return (
        f"The peer score is the weighted average of the stars received together with "
        f"{section.min_ratings:g} ratings' worth of {prior}: someone nobody rated has {prior}, "
        "and a few ratings move the score only a little."
    )


def _counting(section: PeerSection) -> str:
    if section.valid_days is None:
        return (
            "The scheme sets no time limit on ratings (the catalog's display period still "
            "ends them)."
        )
    fades = ", weighing less and less until then" if section.decay == "linear" else ""
    return f"A rating counts for {duration_words(section.valid_days)} after it was given{fades}."


def _safeguard_words(guard: Safeguards) -> list[str]:
    found = []
    window = guard.retaliation_days
    if window is not None:
        low = f"{guard.retaliation_stars} star{'' if guard.retaliation_stars == 1 else 's'}"
        found.append(
            f"A rating of {low} or less given less than {duration_words(window)} after the "
            f"rated person rated the rater {low} or less is presumed retaliation and keeps "
            f"{_share(guard.retaliation_weight)} of its weight; the rating it answers counts "
            "in full."
        )
    if guard.collusion_size is not None:
        found.append(
            "5-star ratings between two people who rate each other 5 stars, inside a group of "
            f"{guard.collusion_size} or more who all do so, are presumed collusion and keep "
            f"{_share(guard.collusion_weight)} of their weight."
        )
    period = guard.newcomer_days
    if period is not None:
        found.append(
            f"Ratings given less than {duration_words(period)} after the rater's first "
            f"interaction (new accounts) keep {_share(guard.newcomer_weight)} of their weight."
        )
    return found or ["No safeguard discounts any rating."]


def peer_words(section: PeerSection) -> dict[str, Any]:
    """How ratings make the peer score, in plain words."""
    return {
        "algorithm": section.algorithm,
        "prior": section.prior,
        "min_ratings": section.min_ratings,
        "valid_days": section.valid_days,
        "seeds": len(section.seeds),
        "words": [
            "After every interaction each party may rate the other from 1 to 5 stars; "
            "a rating is a record about the person rated, who sees it (but not who gave it) "
            "in their file and may object to it.",
            _weighting(section),
            _smoothing(section),
            _counting(section),
        ],
        "safeguards": _safeguard_words(section.safeguards),
    }


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
    rules = scheme.eligibility
    who = ""
    if rules is not None and rules.min_age is not None:
        who += f" aged {rules.min_age} or over (by the birth date in their resident ID)"
    if rules is not None and rules.consent == "required":
        who += " who have consented to it (consent can be withdrawn at any time)"
    start = f"It scores {kinds}{who}. Everyone starts at {_points(scheme.base)}"
    if scheme.peer is not None:
        weight = scheme.peer.weight
        start += (
            f" and gets {'' if weight >= 0 else 'minus '}{_points(abs(weight))} per star of "
            "their peer score (0 to 5 stars, from the ratings other people give them)"
        )
    summary = start + (f"; the score {' and '.join(bounds)}." if bounds else ".")
    days = min([objection_days, *([scheme.objection_days] if scheme.objection_days else [])])
    return {
        "scheme": scheme.id,
        "name": scheme.name,
        "description": scheme.description,
        "summary": summary,
        "objection_days": days,
        "peer": None if scheme.peer is None else peer_words(scheme.peer),
        "grades": [
            {"grade": g.name, "band": grade_words(scheme.grades, i), "description": g.description}
            for i, g in enumerate(scheme.grades)
        ],
        "rules": [
            {
                "rule": r.id,
                "points": points_shown(r),
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
