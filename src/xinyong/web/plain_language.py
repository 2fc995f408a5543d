"""A scheme in plain words, generated from the scheme itself (never written by hand, so it
cannot drift from what the evaluator does; ``docs/schemes.md`` gives the exact semantics).

Every sentence is built from one field of the scheme: points and what they apply to, how long
a record counts and whether it fades, caps, what clears a record, vetoes on the grade, the grade
bands, who is on each list and which measures follow; for a scheme with a ``[peer]`` table, how
ratings make the peer score (the algorithm, smoothing, how long a rating counts, the safeguards).

Every sentence is a message of the catalogs in the language asked for (the page's; English for
the JSON twin), filled with the scheme's own values: codes, names, conditions and descriptions
are the scheme's words and are never translated. A record code's description is the code
catalog's, translated when a catalog has it (:func:`xinyong.i18n.data_text`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from xinyong.domain.catalog import Catalog
from xinyong.domain.durations import format_days, parse_term
from xinyong.i18n import N_, data_text, gettext_for, translations
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
    "ROLES",
    "describe_scheme",
    "duration_words",
    "grade_words",
    "list_words",
    "measure_words",
    "peer_words",
    "points_shown",
    "rule_words",
]

_UNITS = {"d": N_("days"), "w": N_("weeks"), "m": N_("months"), "y": N_("years")}
"""The scheme language's units, counted (``the number of days``)."""
ROLES = {
    "legal_representative": N_("legal representative"),
    "principal": N_("principal person in charge"),
    "actual_controller": N_("actual controller"),
}
"""An organisation's people a measure may reach, in words (those of
:data:`xinyong.domain.relations.ROLE_WORDS`, marked for translation here: the domain is below the
catalogs)."""
_FADES = N_(", weighing less and less until then")


def _join(items: Iterable[str], separator: str, language: str) -> str:
    """``items`` joined by ``separator`` (marked with N_) as ``language`` writes it (``、`` for
    ``, `` in Chinese)."""
    return gettext_for(language)(separator).join(items)


def _units(count: int, unit: str, language: str) -> str:
    """``3 years``: a count of one of the scheme language's units, in words."""
    ngettext = translations(language).ngettext
    words = {
        "d": ngettext("%(count)s day", "%(count)s days", count),
        "w": ngettext("%(count)s week", "%(count)s weeks", count),
        "m": ngettext("%(count)s month", "%(count)s months", count),
        "y": ngettext("%(count)s year", "%(count)s years", count),
    }
    return words[unit] % {"count": count}


def duration_words(days: int, language: str) -> str:
    """``1095`` -> ``3 years`` (the scheme language's units: a month is 30 days, a year 365)."""
    text = format_days(days)
    return _units(int(text[:-1]), text[-1], language)


def _term_words(text: str, language: str) -> str:
    """A term as the scheme writes it, in words: ``730d`` -> ``730 days``, ``2y`` -> ``2 years``
    (a calendar term is not a number of days)."""
    clean = parse_term(text).text
    return _units(int(clean[:-1]), clean[-1], language)


def _points(value: float, language: str) -> str:
    """``20 points``, the number as the scheme writes it (one point, else points: the plural
    of English, where 0.5 and 1.5 are points too)."""
    ngettext = translations(language).ngettext
    text = ngettext("%(points)s point", "%(points)s points", 1 if abs(value) == 1 else 2)
    return text % {"points": f"{value:g}"}


def points_shown(rule: Rule) -> float | dict[str, Any]:
    """A rule's ``points`` as the scheme file gives them (a number, or ``per``, ``each`` and
    ``max_units``)."""
    return rule.points if isinstance(rule.points, float) else rule.points.model_dump()


def _points_words(rule: Rule, language: str) -> str:
    _ = gettext_for(language)
    each = rule.unit_points
    if each == 0:
        return _(" counts without points")
    points = _points(abs(each), language)
    if isinstance(rule.points, float):
        flat = _(" takes away %(points)s") if each < 0 else _(" adds %(points)s")
        return flat % {"points": points}
    per_unit = (
        _(" takes away %(points)s for each unit of its “%(per)s”, for at most %(most)s")
        if each < 0
        else _(" adds %(points)s for each unit of its “%(per)s”, for at most %(most)s")
    )
    return per_unit % {
        "points": points,
        "per": rule.points.per,
        "most": f"{rule.points.max_units:g}",
    }


def _term_from_words(spec: TermFrom, language: str) -> str:
    _ = gettext_for(language)
    return _(
        "; it counts for the number of %(units)s its “%(attr)s” gives (at most %(most)s; "
        "%(default)s when it gives none) after the day it happened"
    ) % {
        "units": _(_UNITS[spec.unit]),
        "attr": spec.attr,
        "most": _term_words(spec.max, language),
        "default": _term_words(spec.default, language),
    }


def _how_long(rule: Rule, language: str) -> str:
    """How long a rule counts a record, and whether it fades meanwhile."""
    _ = gettext_for(language)
    if rule.valid_for is None:
        return _("; the scheme sets no time limit (the record's display period still ends it)")
    if isinstance(rule.valid_for, TermFrom):
        term = _term_from_words(rule.valid_for, language)
    else:
        term = _("; it counts for %(term)s after the day it happened") % {
            "term": _term_words(rule.valid_for, language)
        }
    return term + (_(_FADES) if rule.decay == "linear" else "")


def _what(rule: Rule, catalog: Catalog | None, language: str) -> str:
    _ = gettext_for(language)
    if rule.match == "*":
        return _("Every record")
    if rule.match.endswith(".*"):
        return _("Every record whose code starts with “%(prefix)s”") % {"prefix": rule.match[:-1]}
    entry = catalog.get(rule.match) if catalog is not None else None
    if entry:
        return _("Every record of “%(description)s” (%(code)s)") % {
            "description": data_text(entry.description, language),
            "code": rule.match,
        }
    return _("Every record of “%(code)s”") % {"code": rule.match}


def rule_words(rule: Rule, catalog: Catalog | None, language: str) -> str:
    """What a rule does, in plain words."""
    _ = gettext_for(language)
    when = _(" for which %(when)s") % {"when": rule.when} if rule.when else ""
    first = _what(rule, catalog, language) + when
    first += _points_words(rule, language) + _how_long(rule, language)
    parts = [_("%(sentence)s.") % {"sentence": first}]
    if rule.cap is not None:
        parts.append(
            _(" At most %(points)s in all come from this rule.")
            % {"points": _points(rule.cap, language)}
        )
    if rule.cleared_by:
        codes = _join((f"“{code}”" for code in rule.cleared_by), N_(", "), language)
        parts.append(_(" A later record of %(codes)s in the same case ends it.") % {"codes": codes})
    if rule.veto:
        parts.append(
            _(" While such a record counts, the grade can be no better than %(grade)s.")
            % {"grade": rule.veto}
        )
    if rule.grade:
        parts.append(
            _(" While such a record counts, the grade is %(grade)s, whatever the score.")
            % {"grade": rule.grade}
        )
    return "".join(parts)


def grade_words(grades: tuple[Grade, ...], index: int, language: str) -> str:
    """The score band of one grade."""
    _ = gettext_for(language)
    grade = grades[index]
    if grade.assigned:
        return _("given by a record, not by the score")
    above = next((g.min for g in reversed(grades[:index]) if not g.assigned), None)
    if grade.min is None:
        if above is None:
            return _("every score")
        return _("below %(above)s points") % {"above": f"{above:g}"}
    if above is None:
        return _("%(min)s points or more") % {"min": f"{grade.min:g}"}
    return _("from %(min)s to below %(above)s points") % {
        "min": f"{grade.min:g}",
        "above": f"{above:g}",
    }


def _graded(grades: Iterable[str], language: str) -> str:
    """Who has one of ``grades``."""
    _ = gettext_for(language)
    return _("everyone graded %(grades)s") % {"grades": _join(grades, N_(" or "), language)}


def list_words(lst: ListDef, grace_days: int, language: str) -> str:
    """Who is on a list and whether it is published."""
    _ = gettext_for(language)
    who = []
    if lst.grades:
        who.append(_graded(lst.grades, language))
    if lst.rules:
        who.append(
            _("everyone with a counting record of the rules %(rules)s")
            % {"rules": _join(lst.rules, N_(", "), language)}
        )
    members = (
        _join(who, N_(" and "), language)
        if who
        else _("nobody (the list names no grade and no rule)")
    )
    kind = _("Black list (sanctions)") if lst.kind == "black" else _("Red list (rewards)")
    published = (
        _(
            "Published %(days)s days after the listed person or organization is given notice, "
            "with identifiers masked."
        )
        % {"days": grace_days}
        if lst.disclose
        else _("Not published.")
    )
    return _("%(kind)s: %(members)s. %(published)s") % {
        "kind": kind,
        "members": members,
        "published": published,
    }


def measure_words(measure: Measure, language: str) -> str:
    """What a measure does, to whom, on what legal basis."""
    _ = gettext_for(language)
    whom = []
    if measure.lists:
        whom.append(_("members of %(lists)s") % {"lists": _join(measure.lists, N_(", "), language)})
    if measure.grades:
        whom.append(_graded(measure.grades, language))
    reach = ""
    if measure.extends_to:
        roles = _join((_(ROLES[role]) for role in measure.extends_to), N_(" and "), language)
        reach = _(" It also applies to the %(roles)s of an organisation it applies to.") % {
            "roles": roles
        }
    return _("%(kind)s: %(what)s. It applies to %(applies)s.%(reach)s Legal basis: %(basis)s.") % {
        "kind": _("Sanction") if measure.kind == "sanction" else _("Reward"),
        "what": data_text(measure.description, language) or measure.id,
        "applies": _join(whom, N_(" and "), language) or _("nobody"),
        "reach": reach,
        "basis": data_text(measure.basis or "", language) or _("none given in the scheme"),
    }


def _keeps(share: float, language: str) -> str:
    """What a rating presumed unfair keeps of its weight."""
    _ = gettext_for(language)
    if share == 0:
        return _("keeps none of its weight")
    return _("keeps %(share)s of its weight") % {"share": f"{share:.0%}"}


def _keep(share: float, language: str) -> str:
    """What ratings presumed unfair keep of their weight."""
    _ = gettext_for(language)
    if share == 0:
        return _("keep none of their weight")
    return _("keep %(share)s of their weight") % {"share": f"{share:.0%}"}


def _weighting(section: PeerSection, language: str) -> str:
    _ = gettext_for(language)
    if section.algorithm == "bayesian":
        how = _("every rating weighs the same, whoever gives it.")
    elif section.algorithm == "nosedive":
        how = _(
            "a rating weighs as much as the rater's own peer score, so highly rated people's "
            "ratings count more and a falling score takes its holder's voice with it (the "
            "mechanism of the series “Nosedive”)."
        )
    else:
        how = _trust_words(section, language)
    return _("Algorithm “%(algorithm)s”: %(how)s") % {"algorithm": section.algorithm, "how": how}


def _trust_words(section: PeerSection, language: str) -> str:
    """How trust weighs ratings (``eigentrust``), from the pre-trusted accounts if any."""
    _ = gettext_for(language)
    seeds = len(section.seeds)
    start = (
        translations(language).ngettext(
            "the %(count)s pre-trusted account the scheme names",
            "the %(count)s pre-trusted accounts the scheme names",
            seeds,
        )
        % {"count": seeds}
        if seeds
        else _("everyone alike (the scheme names no pre-trusted account)")
    )
    return _(
        "a rating weighs as much as the trust its rater has earned: trust starts from "
        "%(start)s and flows to the people they rate well, and on from them; at every step "
        "%(damping)s of it returns to where it started.%(nobody)s"
    ) % {
        "start": start,
        "damping": f"{section.damping:.0%}",
        "nobody": _(" A rater nobody trusts rates without weight.") if seeds else "",
    }


def _smoothing(section: PeerSection, language: str) -> str:
    _ = gettext_for(language)
    prior = _("%(stars)s stars") % {"stars": f"{section.prior:g}"}
    if section.min_ratings == 0:
        return _(
            "The peer score is the weighted average of the stars received; someone nobody "
            "rated has %(prior)s."
        ) % {"prior": prior}
    return _(
        "The peer score is the weighted average of the stars received together with "
        "%(count)s ratings' worth of %(prior)s: someone nobody rated has %(prior)s, and a few "
        "ratings move the score only a little."
    ) % {"count": f"{section.min_ratings:g}", "prior": prior}


def _counting(section: PeerSection, language: str) -> str:
    _ = gettext_for(language)
    if section.valid_days is None:
        return _(
            "The scheme sets no time limit on ratings (the catalog's display period still "
            "ends them)."
        )
    return _("A rating counts for %(term)s after it was given%(fades)s.") % {
        "term": duration_words(section.valid_days, language),
        "fades": _(_FADES) if section.decay == "linear" else "",
    }


def _safeguard_words(guard: Safeguards, language: str) -> list[str]:
    _ = gettext_for(language)
    found = []
    window = guard.retaliation_days
    if window is not None:
        stars = guard.retaliation_stars
        low = translations(language).ngettext("%(count)s star", "%(count)s stars", stars)
        found.append(
            _(
                "A rating of %(low)s or less given less than %(window)s after the rated person "
                "rated the rater %(low)s or less is presumed retaliation and %(keeps)s; the "
                "rating it answers counts in full."
            )
            % {
                "low": low % {"count": stars},
                "window": duration_words(window, language),
                "keeps": _keeps(guard.retaliation_weight, language),
            }
        )
    if guard.collusion_size is not None:
        found.append(
            _(
                "5-star ratings between two people who rate each other 5 stars, inside a group "
                "of %(size)s or more who all do so, are presumed collusion and %(keep)s."
            )
            % {"size": guard.collusion_size, "keep": _keep(guard.collusion_weight, language)}
        )
    period = guard.newcomer_days
    if period is not None:
        found.append(
            _(
                "Ratings given less than %(period)s after the rater's first interaction (new "
                "accounts) %(keep)s."
            )
            % {
                "period": duration_words(period, language),
                "keep": _keep(guard.newcomer_weight, language),
            }
        )
    return found or [_("No safeguard discounts any rating.")]


def peer_words(section: PeerSection, language: str) -> dict[str, Any]:
    """How ratings make the peer score, in plain words."""
    _ = gettext_for(language)
    return {
        "algorithm": section.algorithm,
        "prior": section.prior,
        "min_ratings": section.min_ratings,
        "valid_days": section.valid_days,
        "seeds": len(section.seeds),
        "words": [
            _(
                "After every interaction each party may rate the other from 1 to 5 stars; a "
                "rating is a record about the person rated, who sees it (but not who gave it) "
                "in their file and may object to it."
            ),
            _weighting(section, language),
            _smoothing(section, language),
            _counting(section, language),
        ],
        "safeguards": _safeguard_words(section.safeguards, language),
    }


def _bounds(scheme: Scheme, language: str) -> str:
    """The score's floor and ceiling, if the scheme sets them."""
    _ = gettext_for(language)
    floor = None if scheme.floor is None else f"{scheme.floor:g}"
    ceiling = None if scheme.ceiling is None else f"{scheme.ceiling:g}"
    if floor is not None and ceiling is not None:
        return _("; the score never goes below %(floor)s and never goes above %(ceiling)s") % {
            "floor": floor,
            "ceiling": ceiling,
        }
    if floor is not None:
        return _("; the score never goes below %(floor)s") % {"floor": floor}
    if ceiling is not None:
        return _("; the score never goes above %(ceiling)s") % {"ceiling": ceiling}
    return ""


def _summary(scheme: Scheme, language: str) -> str:
    """Whom the scheme scores, where the score starts, what the peer score adds, its bounds."""
    _ = gettext_for(language)
    kinds = (
        _("people") if kind == "person" else _("organizations") for kind in scheme.subject_kinds
    )
    rules = scheme.eligibility
    who = ""
    if rules is not None and rules.min_age is not None:
        who += _(" aged %(age)s or over (by the birth date in their resident ID)") % {
            "age": rules.min_age
        }
    if rules is not None and rules.consent == "required":
        who += _(" who have consented to it (consent can be withdrawn at any time)")
    peer = ""
    if scheme.peer is not None:
        weight = scheme.peer.weight
        per_star = (
            _(
                " and gets %(points)s per star of their peer score (0 to 5 stars, from the "
                "ratings other people give them)"
            )
            if weight >= 0
            else _(
                " and gets minus %(points)s per star of their peer score (0 to 5 stars, from "
                "the ratings other people give them)"
            )
        )
        peer = per_star % {"points": _points(abs(weight), language)}
    return _("It scores %(kinds)s%(who)s. Everyone starts at %(points)s%(peer)s%(bounds)s.") % {
        "kinds": _join(kinds, N_(" and "), language),
        "who": who,
        "points": _points(scheme.base, language),
        "peer": peer,
        "bounds": _bounds(scheme, language),
    }


def describe_scheme(
    scheme: Scheme, catalog: Catalog | None, grace_days: int, objection_days: int, language: str
) -> dict[str, Any]:
    """The whole scheme in plain words, as the page and its JSON twin show it, in
    ``language``."""
    days = min([objection_days, *([scheme.objection_days] if scheme.objection_days else [])])
    return {
        "scheme": scheme.id,
        "name": scheme.name,
        "description": scheme.description,
        "summary": _summary(scheme, language),
        "objection_days": days,
        "peer": None if scheme.peer is None else peer_words(scheme.peer, language),
        "grades": [
            {
                "grade": g.name,
                "band": grade_words(scheme.grades, i, language),
                "description": g.description,
            }
            for i, g in enumerate(scheme.grades)
        ],
        "rules": [
            {
                "rule": r.id,
                "points": points_shown(r),
                "words": rule_words(r, catalog, language),
                "description": r.description,
            }
            for r in scheme.rules
        ],
        "lists": [
            {
                "list": lst.id,
                "kind": lst.kind,
                "disclosed": lst.disclose,
                "words": list_words(lst, grace_days, language),
                "description": lst.description,
            }
            for lst in scheme.lists
        ],
        "measures": [
            {
                "measure": m.id,
                "kind": m.kind,
                "words": measure_words(m, language),
                "basis": m.basis,
            }
            for m in scheme.measures
        ],
    }
