"""The scheme linter: cross-references, grade order, and guardrails against unlawful scoring.

Errors make a scheme unusable (``xinyong score`` refuses it). Guardrail warnings become errors
under ``--strict``:

- ``protected-attribute``: a rule's code pattern, an attribute it reads or a value it compares
  with names a protected characteristic (:mod:`xinyong.domain.protected`: ethnicity, religion,
  political opinion, union membership, health, pregnancy, sex, sexual orientation, genetic and
  biometric data, in English, pinyin or Chinese);
- ``bare-score-sanction``: a sanction follows from grades alone. "A low score alone is never the
  basis for credit penalties" (Rongcheng's current rules), and the EU AI Act Art. 5(1)(c) forbids
  detrimental treatment from a social score; a sanction must rest on a specific record (a list
  with ``rules``);
- ``sanction-without-basis``: every punishment must name its legal basis ("none", "n/a",
  "TODO", "待定" and other placeholders name none);
- ``no-expiry``: a rule without ``valid_for`` that lowers a score, vetoes or assigns a grade or
  feeds a black list punishes forever (a ``valid_for`` longer than the longest display period,
  such as "100y", is no expiry either);
- ``outlives-catalog`` (an error): a rule's ``valid_for`` is longer than the catalog's maximum
  display period of every code it matches; a record stops counting when the catalog says so, in
  every mode, so the rule would promise what the ledger cannot give (a pattern over codes with
  different periods counts each code's records for the shorter of the two);
- ``unknown-code``: a rule matches no code of the catalog (when a catalog is given);
- ``attribute-type`` (an error): ``points = {per ...}`` or ``valid_for = {attr ...}`` reads an
  attribute that the catalog declares as a string or a boolean for a code the rule matches;
- ``unknown-attribute``: such an attribute is declared by no code the rule matches;
- ``status-weighting``: a peer score that weighs raters by their own score (``nosedive``), the
  anti-pattern of the show: a falling score takes its holder's voice with it;
- ``gate-without-path-back``: a measure that follows from the grade of a peer-scored scheme
  whose ``[peer]`` sets no ``valid_for``: ratings then count until the catalog stops displaying
  them (a year for ``peer.rating`` in the bundled catalog), so whoever falls below the line
  waits that long to climb back;
- ``extends-without-organizations``: a measure ``extends_to`` related parties in a scheme that
  scores no organizations, so it reaches nobody;
- ``no-seeds``: ``eigentrust`` without pre-trusted seeds trusts everyone alike at the start,
  which gives a ring of fake accounts the same footing as real people.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from xinyong.domain.catalog import Catalog, Polarity
from xinyong.domain.durations import format_days
from xinyong.domain.peer_records import RATING
from xinyong.domain.protected import ProtectedMatch, protected_term, protected_terms
from xinyong.schemes.issues import Issue, Locator, Severity
from xinyong.schemes.load import LoadedScheme
from xinyong.schemes.model import PointsPer, Rule, Scheme, TermFrom
from xinyong.schemes.predicate import attribute_names, literal_values

__all__ = ["lint", "names_nothing"]


class _Report:
    def __init__(self, loaded: LoadedScheme) -> None:
        self.locator = Locator(loaded.text, loaded.path)
        self.file = str(loaded.path) if loaded.path else "<scheme>"
        self.scheme = loaded.scheme
        self.issues: list[Issue] = []

    def add(
        self,
        severity: Severity,
        check: str,
        message: str,
        section: str | None = None,
        index: int | None = None,
        key: str | None = None,
        detail: str = "",
    ) -> None:
        """One finding; ``detail`` tells apart two findings of one check at one key (the
        attribute a ``when`` reads), so that each needs its own override."""
        table = where = ""
        if section is not None and index is not None:
            items = getattr(self.scheme, section)
            item = items[index]
            ident = getattr(item, "id", None) or getattr(item, "name", "")
            table = f"[[{section}]] #{index + 1} ({ident})"
            where = ".".join(part for part in (section, str(ident), key, detail) if part)
        line = self.locator.line(section, index, key)
        self.issues.append(
            Issue(severity, check, message, self.file, line, table, key or "", where)
        )

    def add_peer(self, check: str, message: str, key: str) -> None:
        """A guardrail warning about a key of the ``[peer]`` table."""
        line = self.locator.table_line("peer", key)
        self.issues.append(
            Issue(Severity.WARNING, check, message, self.file, line, "[peer]", key, f"peer.{key}")
        )


def _duplicates(names: Iterable[str]) -> set[str]:
    return {name for name, count in Counter(names).items() if count > 1}


def lint(loaded: LoadedScheme, catalog: Catalog | None = None) -> list[Issue]:
    """All errors and guardrail warnings of a structurally valid scheme (the catalog's own
    protected names count besides :mod:`xinyong.domain.protected`)."""
    report = _Report(loaded)
    scheme = loaded.scheme
    _check_grades(report, scheme)
    _check_ids(report, scheme)
    _check_rules(report, scheme, catalog)
    _check_lists(report, scheme)
    _check_measures(report, scheme)
    _check_peer(report, scheme, catalog)
    return report.issues


def _protected_reads(rule: Rule, extra: frozenset[str]) -> list[tuple[str, ProtectedMatch]]:
    """What a rule reads that is protected: (the key it is written under, the match)."""
    found: list[tuple[str, ProtectedMatch]] = []
    match = protected_term(rule.match, extra)
    if match is not None:
        found.append(("match", match))
    if rule.predicate is not None:
        names = dict.fromkeys(attribute_names(rule.predicate))
        values = dict.fromkeys(v for v in literal_values(rule.predicate) if isinstance(v, str))
        found += [("when", m) for m in protected_terms([*names, *values], extra)]
    for key, name in _numbers_read(rule):
        match = protected_term(name, extra)
        if match is not None:
            found.append((key, match))
    return found


def _numbers_read(rule: Rule) -> list[tuple[str, str]]:
    """(key, attribute) for each number a rule reads besides its predicate: ``points = {per}``
    and ``valid_for = {attr}``."""
    found = []
    if isinstance(rule.points, PointsPer):
        found.append(("points", rule.points.per))
    if isinstance(rule.valid_for, TermFrom):
        found.append(("valid_for", rule.valid_for.attr))
    return found


def _check_numbers(report: _Report, index: int, rule: Rule, catalog: Catalog) -> None:
    """The attributes a rule reads as numbers must be numbers in the catalog."""
    matched = {code: entry for code, entry in catalog.codes.items() if rule.matches(code)}
    for key, name in _numbers_read(rule):
        declared = {code: e.attrs[name] for code, e in matched.items() if name in e.attrs}
        wrong = sorted(f"{code} ({kind})" for code, kind in declared.items() if kind != "number")
        if wrong:
            report.add(
                Severity.ERROR,
                "attribute-type",
                f"{key} reads {name!r} as a number, but the catalog declares it as "
                f"{', '.join(wrong)}",
                "rules",
                index,
                key,
            )
        elif matched and not declared:
            report.add(
                Severity.WARNING,
                "unknown-attribute",
                f"{key} reads {name!r}, which no code the rule matches declares: "
                + (
                    "every record gets the default term"
                    if key == "valid_for"
                    else "no record carries it, so none counts"
                ),
                "rules",
                index,
                key,
            )


def _check_rules(report: _Report, scheme: Scheme, catalog: Catalog | None) -> None:
    grades = {g.name for g in scheme.grades}
    punitive = {rule_id for lst in scheme.lists if lst.kind == "black" for rule_id in lst.rules}
    extra = catalog.protected_attributes if catalog is not None else frozenset()
    for index, rule in enumerate(scheme.rules):
        for key, named in (("veto", rule.veto), ("grade", rule.grade)):
            if named is not None and named not in grades:
                report.add(
                    Severity.ERROR,
                    "unknown-grade",
                    f"{key} names unknown grade {named!r}",
                    "rules",
                    index,
                    key,
                )
        for key, match in _protected_reads(rule, extra):
            report.add(
                Severity.WARNING,
                "protected-attribute",
                f"{match.reason()}: no scheme may score it (GDPR Art. 9, PIPL Art. 28)",
                "rules",
                index,
                key,
                detail=match.name,
            )
        punishes = (
            rule.unit_points < 0
            or rule.veto is not None
            or rule.grade is not None
            or rule.id in punitive
        )
        valid_days = rule.valid_days
        if punishes and valid_days is None:
            report.add(
                Severity.WARNING,
                "no-expiry",
                "a rule that lowers a score, vetoes a grade or puts people on a black "
                "list needs valid_for, or it counts a record forever",
                "rules",
                index,
                "points",
            )
        elif punishes and valid_days is not None and valid_days > _longest_display(catalog):
            report.add(
                Severity.WARNING,
                "no-expiry",
                f"valid_for {rule.valid_for_text!r} is not an expiry: it outlives the longest "
                f"display period {_longest_text(catalog)}",
                "rules",
                index,
                "valid_for",
            )
        if catalog is not None and valid_days is not None:
            shown = {c: e.max_display_days for c, e in catalog.codes.items() if rule.matches(c)}
            if shown and valid_days > max(shown.values()):
                periods = ", ".join(f"{c} ({format_days(d)})" for c, d in sorted(shown.items()))
                report.add(
                    Severity.ERROR,
                    "outlives-catalog",
                    f"valid_for {rule.valid_for_text!r} is longer than the catalog displays "
                    f"{periods}: "
                    "a record stops counting when its display period ends, so shorten valid_for",
                    "rules",
                    index,
                    "valid_for",
                )
        if catalog is not None:
            _check_numbers(report, index, rule, catalog)
        if catalog is not None and not any(rule.matches(code) for code in catalog.codes):
            report.add(
                Severity.WARNING,
                "unknown-code",
                f"match {rule.match!r} matches no code in the catalog",
                "rules",
                index,
                "match",
            )
        if catalog is not None:
            unknown = [c for c in rule.cleared_by if c not in catalog.codes]
            if unknown:
                report.add(
                    Severity.WARNING,
                    "unknown-code",
                    f"cleared_by names codes not in the catalog: {', '.join(unknown)}",
                    "rules",
                    index,
                    "cleared_by",
                )


def _check_lists(report: _Report, scheme: Scheme) -> None:
    grades = {g.name for g in scheme.grades}
    rules = {r.id for r in scheme.rules}
    for index, lst in enumerate(scheme.lists):
        for grade in lst.grades:
            if grade not in grades:
                report.add(
                    Severity.ERROR,
                    "unknown-grade",
                    f"unknown grade {grade!r}",
                    "lists",
                    index,
                    "grades",
                )
        for rule_id in lst.rules:
            if rule_id not in rules:
                report.add(
                    Severity.ERROR,
                    "unknown-rule",
                    f"unknown rule {rule_id!r}",
                    "lists",
                    index,
                    "rules",
                )
        if not lst.grades and not lst.rules:
            report.add(
                Severity.WARNING,
                "empty-list",
                "the list has neither grades nor rules: nobody can be on it",
                "lists",
                index,
            )


def _check_measures(report: _Report, scheme: Scheme) -> None:
    grades = {g.name for g in scheme.grades}
    lists = {lst.id: lst for lst in scheme.lists}
    for index, measure in enumerate(scheme.measures):
        for grade in measure.grades:
            if grade not in grades:
                report.add(
                    Severity.ERROR,
                    "unknown-grade",
                    f"unknown grade {grade!r}",
                    "measures",
                    index,
                    "grades",
                )
        for list_id in measure.lists:
            if list_id not in lists:
                report.add(
                    Severity.ERROR,
                    "unknown-list",
                    f"unknown list {list_id!r}",
                    "measures",
                    index,
                    "lists",
                )
        if measure.kind == "sanction":
            _check_sanction(report, scheme, index)
        if measure.extends_to and "organization" not in scheme.subject_kinds:
            report.add(
                Severity.WARNING,
                "extends-without-organizations",
                "extends_to reaches the people of organisations the measure applies to, but "
                "the scheme scores no organizations: it reaches nobody",
                "measures",
                index,
                "extends_to",
            )


def _rating_lifetime(catalog: Catalog | None) -> str:
    """How long a rating counts without ``valid_for``: the catalog's display period."""
    entry = catalog.get(RATING) if catalog is not None else None
    if entry is None:
        return "as long as the catalog displays them"
    return f"for the catalog's display period of {RATING} ({format_days(entry.max_display_days)})"


LONGEST_DISPLAY_DAYS = 5 * 365
"""Without a catalog, the longest any record may count against someone: five years, the
longest display period of the bundled catalog (the court's list of judgment defaulters) and the
retention of negative data in PBOC credit reports."""


def _longest_display(catalog: Catalog | None) -> int:
    """The longest a record may count against someone: the longest display period of the
    catalog's negative codes (a relation or a consent is shown longer, but is no misconduct)."""
    negative = (
        []
        if catalog is None
        else [e.max_display_days for e in catalog.codes.values() if e.polarity is Polarity.NEGATIVE]
    )
    return max(negative) if negative else LONGEST_DISPLAY_DAYS


def _longest_text(catalog: Catalog | None) -> str:
    where = "of the catalog's negative codes" if catalog is not None else "of any record"
    return f"{where} ({format_days(_longest_display(catalog))})"


def _check_peer(report: _Report, scheme: Scheme, catalog: Catalog | None) -> None:
    peer = scheme.peer
    if peer is None:
        return
    if peer.algorithm == "nosedive":
        report.add_peer(
            "status-weighting",
            "raters are weighted by their own score (the Nosedive anti-pattern): a high "
            "scorer's rating outweighs others', and a falling score takes its holder's voice "
            "with it; use bayesian or eigentrust",
            "algorithm",
        )
    if peer.algorithm == "eigentrust" and not peer.seeds:
        report.add_peer(
            "no-seeds",
            "eigentrust without seeds starts from uniform trust: a ring of new accounts gets "
            "the same footing as established people; name pre-trusted seeds",
            "seeds",
        )
    if peer.valid_for is None and peer.weight != 0:
        by_grade = {lst.id for lst in scheme.lists if lst.grades}
        gates = [m.id for m in scheme.measures if m.grades or by_grade.intersection(m.lists)]
        if gates:
            report.add_peer(
                "gate-without-path-back",
                f"measure(s) {', '.join(gates)} follow from the grade of a peer score without "
                f"valid_for: ratings count {_rating_lifetime(catalog)}, so whoever falls below "
                "the line waits that long to climb back; set valid_for",
                "valid_for",
            )


def _check_grades(report: _Report, scheme: Scheme) -> None:
    given = {r.grade for r in scheme.rules} | {r.veto for r in scheme.rules}
    for index, grade in enumerate(scheme.grades):
        if grade.assigned and grade.min is not None:
            report.add(
                Severity.ERROR,
                "assigned-grade",
                "an assigned grade has no min: only a rule's grade or veto gives it",
                "grades",
                index,
                "min",
            )
        elif grade.assigned and grade.name not in given:
            report.add(
                Severity.WARNING,
                "assigned-grade",
                "no rule's grade or veto names this assigned grade: nobody can get it",
                "grades",
                index,
                "assigned",
            )
    last = scheme.lowest_scored_grade
    previous: float | None = None
    for index in scheme.scored_grades:
        grade = scheme.grades[index]
        if grade.min is None and index != last:
            report.add(
                Severity.ERROR,
                "grade-order",
                "only the last grade scored by points may omit min",
                "grades",
                index,
                "min",
            )
            continue
        if grade.min is not None:
            if previous is not None and grade.min > previous:
                report.add(
                    Severity.ERROR,
                    "grade-order",
                    f"grades go best first: min {grade.min:g} is above the previous "
                    f"grade's {previous:g}",
                    "grades",
                    index,
                    "min",
                )
            elif previous is not None and grade.min == previous:
                report.add(
                    Severity.WARNING,
                    "grade-order",
                    f"min {grade.min:g} equals the previous grade's: this grade is unreachable",
                    "grades",
                    index,
                    "min",
                )
            previous = grade.min
    if scheme.grades[last].min is not None:
        report.add(
            Severity.WARNING,
            "grade-order",
            "the last grade catches every lower score; its min is ignored",
            "grades",
            last,
            "min",
        )


def _check_ids(report: _Report, scheme: Scheme) -> None:
    for section, names in (
        ("grades", [g.name for g in scheme.grades]),
        ("rules", [r.id for r in scheme.rules]),
        ("lists", [x.id for x in scheme.lists]),
        ("measures", [m.id for m in scheme.measures]),
    ):
        for name in sorted(_duplicates(names)):
            index = [i for i, n in enumerate(names) if n == name][1]
            key = "name" if section == "grades" else "id"
            report.add(
                Severity.ERROR, "duplicate-id", f"duplicate {key} {name!r}", section, index, key
            )


_NO_BASIS = re.compile(
    r"(none|n/?a|na|nil|null|tbd|tbc|todo|fixme|xxx|\?+|-+|unknown|not applicable|"
    r"placeholder|see above|various|misc|无|暂无|待定|待补充|不适用|略)"
)
"""What a ``basis`` may say and still name nothing (whole text, case and punctuation aside)."""


def names_nothing(basis: str | None) -> bool:
    """Whether a legal basis is empty or a placeholder ("none", "n/a", "TODO", "待定"...)."""
    text = (basis or "").strip().strip(".。:：;；").strip().lower()
    return not text or _NO_BASIS.fullmatch(text) is not None


def _check_sanction(report: _Report, scheme: Scheme, index: int) -> None:
    measure = scheme.measures[index]
    if names_nothing(measure.basis):
        stated = (measure.basis or "").strip()
        given = f" ({stated!r} names none)" if stated else ""
        report.add(
            Severity.WARNING,
            "sanction-without-basis",
            f"a sanction must name its legal basis{given}",
            "measures",
            index,
            "basis",
        )
    if measure.grades:
        report.add(
            Severity.WARNING,
            "bare-score-sanction",
            "a sanction applied from grades alone punishes a bare score",
            "measures",
            index,
            "grades",
        )
    by_id = {lst.id: lst for lst in scheme.lists}
    graded = [i for i in measure.lists if i in by_id and by_id[i].grades]
    if graded:
        report.add(
            Severity.WARNING,
            "bare-score-sanction",
            f"list(s) {', '.join(graded)} admit members by grade alone; a sanction on "
            "them punishes a bare score",
            "measures",
            index,
            "lists",
        )
