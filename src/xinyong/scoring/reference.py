"""The reference evaluator: the scheme semantics written straight out, one subject at a time.

This is the executable form of ``docs/schemes.md``. It is deliberately plain Python over the
records of one subject, so it can explain every number it produces; the compiled relational
engine (``schemes/compile.py``) must agree with it on every scheme and every set of records, and
a property-based test checks that they do.

Evaluation at an as-of date ``t``:

1. consider the subject's records of the scheme's kinds with ``occurred_at <= t``;
2. a record counts for a rule when its code matches, the predicate is true, ``t`` is before
   the end of its ``valid_for`` term (days, or calendar months and years from its date) and it
   is not cleared (another record of the subject with the same non-empty ``case_id``, a code in
   ``cleared_by`` and a date between the record's own and ``t``);
3. it contributes ``points`` (under ``points = {per ...}``: ``each`` times the record's units),
   times ``1 - age/length`` under linear decay (``length`` the days of its own term, which a
   ``valid_for = {attr ...}`` reads from the record); a rule's total is clipped to
   ``[-cap, cap]``;
4. score = base + rule totals, clamped to ``[floor, ceiling]``, rounded to 2 decimals; the grade
   is the first scored (not ``assigned``) grade whose ``min <= score`` (else the last scored
   one), replaced by the worst ``grade`` of a rule with a counting record, then made no better
   than any veto of a rule with a counting record;
5. lists by grade or by counting records of their rules; measures by grade or list.

A scheme with a ``[peer]`` section adds ``weight × peer score`` to the raw score (step 4). The
peer score comes from the whole rating graph, not from one subject's records, so callers pass
it in: :func:`score_records` computes it with the reference peer algorithms
(:mod:`xinyong.peer.reference`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from xinyong.domain.records import InputRecord
from xinyong.domain.refusals import Word
from xinyong.i18n import N_, Message
from xinyong.peer.reference import reference_peer_scores
from xinyong.peer.result import PeerScore
from xinyong.schemes.eligibility import ineligibility
from xinyong.schemes.model import PointsPer, Rule, Scheme
from xinyong.schemes.predicate import evaluate
from xinyong.scoring.standing import CountedRecord, RuleResult, Standing, round_score

__all__ = ["Explanation", "explain_subject", "score_records", "score_subject", "unrated_peer"]


@dataclass(frozen=True, slots=True)
class Explanation:
    """A standing with everything that produced it."""

    standing: Standing
    scheme_id: str
    as_of: date
    base: float
    raw_score: float
    clamped_score: float
    rules: tuple[RuleResult, ...]
    records: tuple[CountedRecord, ...]
    vetoes: tuple[tuple[str, str], ...]
    """(rule id, grade) for every veto that applied."""
    assignments: tuple[tuple[str, str], ...]
    """(rule id, grade) for every rule whose ``grade`` replaced the score's grade."""
    score_grade: str
    """The grade the score reaches, before any rule assigns or vetoes one."""
    grade_before_veto: str
    ignored: tuple[tuple[InputRecord, str], ...] = field(default=())
    """Records no rule saw, with the reason (other subject kind, after the as-of date...)."""
    peer: PeerScore | None = None
    """The peer score and the ratings behind it, for a scheme with a ``[peer]`` section."""
    peer_points: float = 0.0
    """``weight × peer score``: what the peer score added to the raw score."""


_MATCHES_NO_RULE = Message(N_("matches no rule"))
"""The reason of most ignored records, made once: a subject's records are mostly of codes a
scheme does not score, and a refresh explains every touched subject (docs/benchmarks.md,
"Checks": the records path)."""


def _cleared_by(
    rule: Rule, record: InputRecord, by_case: dict[str, list[InputRecord]], as_of: date
) -> InputRecord | None:
    if not rule.cleared_by or not record.case_id:
        return None
    for other in by_case.get(record.case_id, ()):
        if other.code in rule.cleared_by and record.occurred_at <= other.occurred_at <= as_of:
            return other
    return None


def unrated_peer(scheme: Scheme, subject_id: str) -> PeerScore:
    """The peer score of a subject nobody rated under ``scheme``: its prior."""
    if scheme.peer is None:
        raise ValueError(f"scheme {scheme.id} has no [peer] section")
    section = scheme.peer
    return PeerScore.unrated(subject_id, section.algorithm, section.prior, section.min_ratings)


def _grades(
    scheme: Scheme,
    score: float,
    assignments: Sequence[tuple[str, str]],
    vetoes: Sequence[tuple[str, str]],
) -> tuple[int, int, int]:
    """The score's grade, the grade after assignments and the final grade after vetoes."""
    scored = before = scheme.grade_for(score)
    if assignments:
        before = max(scheme.grade_index(grade) for _, grade in assignments)
    return scored, before, max([before, *(scheme.grade_index(grade) for _, grade in vetoes)])


def explain_subject(
    scheme: Scheme,
    subject_id: str,
    records: Iterable[InputRecord],
    as_of: date,
    peer: PeerScore | None = None,
) -> Explanation:
    """Evaluate one subject and keep every step. ``records`` may include other subjects'.

    ``peer`` is the subject's peer score; a scheme with a ``[peer]`` section needs it.
    """
    if scheme.peer is not None and peer is None:
        raise ValueError(f"scheme {scheme.id} has a [peer] section: pass the peer score")
    if scheme.peer is None and peer is not None:
        raise ValueError(f"scheme {scheme.id} has no [peer] section: no peer score applies")
    considered, ignored = _considered(scheme, subject_id, records, as_of)
    by_case: dict[str, list[InputRecord]] = defaultdict(list)
    for record in considered:
        if record.case_id:
            by_case[record.case_id].append(record)
    results: list[RuleResult] = []
    seen: list[CountedRecord] = []
    vetoes: list[tuple[str, str]] = []
    assignments: list[tuple[str, str]] = []
    matched: set[int] = set()
    for rule in scheme.rules:
        result = _apply_rule(rule, considered, by_case, as_of, seen, matched)
        results.append(result)
        if result.count and rule.veto is not None:
            vetoes.append((rule.id, rule.veto))
        if result.count and rule.grade is not None:
            assignments.append((rule.id, rule.grade))
    for number, record in enumerate(considered):
        if number not in matched:
            ignored.append((record, _MATCHES_NO_RULE))
    peer_points = 0.0
    if scheme.peer is not None and peer is not None:
        peer_points = scheme.peer.weight * peer.score
    raw = scheme.base + peer_points + sum(result.total for result in results)
    clamped = raw
    if scheme.floor is not None:
        clamped = max(clamped, scheme.floor)
    if scheme.ceiling is not None:
        clamped = min(clamped, scheme.ceiling)
    score = round_score(clamped)
    scored, before, index = _grades(scheme, score, assignments, vetoes)
    grade = scheme.grades[index].name
    counting_rules = {result.rule_id for result in results if result.count}
    lists, measures = _lists_and_measures(scheme, grade, counting_rules)
    return Explanation(
        standing=Standing(subject_id, score, grade, lists, measures),
        scheme_id=scheme.id,
        as_of=as_of,
        base=scheme.base,
        raw_score=raw,
        clamped_score=clamped,
        rules=tuple(results),
        records=tuple(seen),
        vetoes=tuple(vetoes),
        assignments=tuple(assignments),
        score_grade=scheme.grades[scored].name,
        grade_before_veto=scheme.grades[before].name,
        ignored=tuple(ignored),
        peer=peer,
        peer_points=peer_points,
    )


def _considered(
    scheme: Scheme, subject_id: str, records: Iterable[InputRecord], as_of: date
) -> tuple[list[InputRecord], list[tuple[InputRecord, str]]]:
    """The subject's records the rules see (step 1), and the others with why not."""
    considered: list[InputRecord] = []
    ignored: list[tuple[InputRecord, str]] = []
    for record in records:
        if record.subject_id != subject_id:
            continue
        if record.subject_kind not in scheme.subject_kinds:
            ignored.append(
                (
                    record,
                    Message(
                        N_("subject kind %(kind)s is not scored"), kind=Word(record.subject_kind)
                    ),
                )
            )
        elif record.occurred_at > as_of:
            ignored.append((record, Message(N_("occurs after the as-of date %(day)s"), day=as_of)))
        else:
            considered.append(record)
    return considered, ignored


def _apply_rule(
    rule: Rule,
    considered: Sequence[InputRecord],
    by_case: dict[str, list[InputRecord]],
    as_of: date,
    seen: list[CountedRecord],
    matched: set[int],
) -> RuleResult:
    """One rule over the considered records (steps 2 and 3): each record it sees goes to
    ``seen`` and its number to ``matched``."""
    total = 0.0
    count = 0
    for number, record in enumerate(considered):
        if not rule.matches(record.code):
            continue
        matched.add(number)
        age = (as_of - record.occurred_at).days
        term = rule.term_for(record.attrs)
        ends = None if term is None else term.ends_on(record.occurred_at)
        term_text = "" if term is None else term.text
        per = rule.points if isinstance(rule.points, PointsPer) else None
        units = None if per is None else per.units(record.attrs)
        reason = _not_counted(rule, record, age, by_case, as_of, ends, term_text)
        if not reason and per is not None and units is None:
            reason = Message(
                N_("%(attribute)s is missing or not a number from 0 up"), attribute=per.per
            )
        if reason:
            seen.append(
                CountedRecord(
                    record, rule.id, False, age, reason=reason, term=term_text, ends_on=ends
                )
            )
            continue
        factor = 1.0
        if rule.decay == "linear" and term is not None:  # counting, so the term is not empty
            factor = 1.0 - age / term.length_from(record.occurred_at)
        points = rule.unit_points if per is None or units is None else per.each * units
        contribution = points * factor
        total += contribution
        count += 1
        seen.append(
            CountedRecord(
                record, rule.id, True, age, factor, contribution, "", term_text, ends, units
            )
        )
    capped = total
    if rule.cap is not None:
        capped = min(max(total, -rule.cap), rule.cap)
    return RuleResult(rule.id, count, total, capped, capped != total)


def _not_counted(
    rule: Rule,
    record: InputRecord,
    age: int,
    by_case: dict[str, list[InputRecord]],
    as_of: date,
    ends: date | None,
    term: str,
) -> str:
    """Why a record the rule matches does not count (empty when it counts)."""
    if rule.predicate is not None:
        outcome = evaluate(rule.predicate, record.attrs)
        if outcome is not True:
            return Message(N_("predicate unknown") if outcome is None else N_("predicate false"))
    if ends is not None and as_of >= ends:
        return Message(
            N_("expired (age %(age)s days, valid for %(term)s: until %(ends)s)"),
            age=age,
            term=term,
            ends=ends,
        )
    clearer = _cleared_by(rule, record, by_case, as_of)
    if clearer is not None:
        return Message(
            N_("cleared by %(record)s (%(code)s, %(day)s)"),
            record=clearer.key,
            code=clearer.code,
            day=clearer.occurred_at,
        )
    return ""


def _lists_and_measures(
    scheme: Scheme, grade: str, counting_rules: set[str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Lists by grade or by counting records of their rules; measures by grade or list (step 5)."""
    lists = tuple(
        sorted(
            lst.id
            for lst in scheme.lists
            if grade in lst.grades or counting_rules.intersection(lst.rules)
        )
    )
    measures = tuple(
        sorted(
            m.id for m in scheme.measures if grade in m.grades or set(lists).intersection(m.lists)
        )
    )
    return lists, measures


def score_subject(
    scheme: Scheme,
    subject_id: str,
    records: Iterable[InputRecord],
    as_of: date,
    peer: PeerScore | None = None,
) -> Standing:
    """The standing of one subject."""
    return explain_subject(scheme, subject_id, records, as_of, peer).standing


def score_records(
    scheme: Scheme,
    records: Sequence[InputRecord],
    as_of: date,
    subjects: Mapping[str, str] | None = None,
) -> list[Standing]:
    """Standings for every subject, sorted by subject id.

    Without ``subjects`` the subjects scored are those named by a record of the scheme's kinds,
    whatever its date (the subjects ingest would register); with it (ledger mode: subject id to
    kind) exactly those; in both, only those the scheme's ``[eligibility]`` admits.
    """
    by_subject: dict[str, list[InputRecord]] = defaultdict(list)
    for record in records:
        by_subject[record.subject_id].append(record)
    kinds: dict[str, set[str]] = defaultdict(set)
    if subjects is None:
        for r in records:
            if r.subject_kind in scheme.subject_kinds:
                kinds[r.subject_id].add(r.subject_kind)
    else:
        for subject_id, kind in subjects.items():
            kinds[subject_id].add(kind)
    chosen = {
        subject_id
        for subject_id, held in kinds.items()
        if any(
            ineligibility(scheme, subject_id, kind, by_subject.get(subject_id, ()), as_of) is None
            for kind in held
        )
    }
    peers: dict[str, PeerScore] = {}
    if scheme.peer is not None:
        peers = reference_peer_scores(scheme.peer, records, scheme.subject_kinds, as_of)
    return [
        score_subject(
            scheme,
            subject_id,
            by_subject.get(subject_id, ()),
            as_of,
            None
            if scheme.peer is None
            else peers.get(subject_id) or unrated_peer(scheme, subject_id),
        )
        for subject_id in sorted(chosen)
    ]
