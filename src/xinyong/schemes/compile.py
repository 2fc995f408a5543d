"""Compiling a scheme into one Ibis expression: the relational form of the semantics.

The expression reads a ``records`` table (``subject_id, subject_kind, code, occurred_at,
case_id, attrs`` with ``attrs`` as JSON text) and, in ledger mode, a ``subjects`` table
(``subject_id, kind``), and yields ``subject_id, score, grade, lists, measures``. It builds
expressions only and imports no engine: the same expression runs on DuckDB, PostgreSQL and
Spark (``xinyong.engines``).

How each step of the semantics maps to relational operations:

- *countable records*: only records that some rule could count (their code matches a rule
  whose ``valid_for`` they are younger than) go on to the clearing join and the per-subject
  sums; the subjects come from every record of the scheme's kinds, whatever its date (or the
  registered subjects in ledger mode), so a subject with nothing countable still gets its base
  score. Most records are too old or of a code the scheme ignores, and a batch engine then
  joins and shuffles only the rest;
- *clearing*: the few records with a clearing code and a case are aggregated per
  ``(subject_id, case_id)`` into the latest clearing date of each distinct ``cleared_by`` set and
  joined back; a record is cleared when that date is on or after its own (every record is on or
  before the as-of date already);
- *predicates*: attributes are read from the JSON text with type-checked unwraps (``.float``,
  ``.str``, ``.bool`` give NULL for another JSON type), so SQL's three-valued logic is the
  predicate language's; a record counts only when the condition is TRUE (``coalesce(.., false)``);
- *rule totals*: one ``GROUP BY subject_id`` counts each rule's counting records
  (``COUNT(*) FILTER``) and sums the points of the rules whose points vary; a
  rule of constant points totals its count times its points (exact, see
  :func:`_constant_points`); totals are clipped by ``cap``;
- *rounding* reproduces Python's ``round(x, 2)`` bit for bit (see :func:`_round_2dp`);
- *peer scores* come from a ``peer`` table (``subject_id, peer_score``) that the caller computes
  over the rating graph (:mod:`xinyong.peer.algorithms`); it is left-joined, and a subject
  missing from it (nobody rated it) gets the section's prior.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from xinyong.domain.durations import parse_term
from xinyong.schemes.eligibility import eligibility_codes, eligible_subjects
from xinyong.schemes.model import SMALLEST_UNITS, PointsPer, Rule, Scheme, TermFrom
from xinyong.schemes.predicate import And, Compare, In, IsNull, Node, Not

__all__ = ["compile_scheme", "compile_unbound"]


def _match(rule: Rule, code: ir.StringValue) -> ir.BooleanValue:
    if rule.match == "*":
        return ibis.literal(True)
    if rule.match.endswith(".*"):
        return code.startswith(rule.match[:-1])
    return code == rule.match


def _attr(attrs: ir.JSONValue, name: str, literal: object) -> ir.Value:
    item = attrs[name]
    if isinstance(literal, bool):
        return item.bool
    if isinstance(literal, float | int):
        return item.float
    return item.str


def _compare(value: ir.Value, op: str, literal: object) -> ir.BooleanValue:
    lit = ibis.literal(literal)
    result: ir.BooleanValue
    if op == "=":
        result = value == lit
    elif op == "!=":
        result = value != lit
    elif op == "<":
        result = value < lit
    elif op == "<=":
        result = value <= lit
    elif op == ">":
        result = value > lit
    else:
        result = value >= lit
    return result


def _is_null(attrs: ir.JSONValue, name: str) -> ir.BooleanValue:
    item = attrs[name]
    # Missing key: SQL NULL. JSON null: a JSON value whose text is exactly ``null``.
    return item.isnull() | (item.cast("string") == "null")


def _predicate(node: Node, attrs: ir.JSONValue) -> ir.BooleanValue:
    if isinstance(node, Compare):
        return _compare(_attr(attrs, node.name, node.value), node.op, node.value)
    if isinstance(node, In):
        parts = [_compare(_attr(attrs, node.name, v), "=", v) for v in node.values]
        while len(parts) > 1:  # a balanced tree: a long list must not nest SQL deeply
            paired = [parts[i] | parts[i + 1] for i in range(0, len(parts) - 1, 2)]
            parts = paired + ([parts[-1]] if len(parts) % 2 else [])
        result = parts[0]
        return ~result if node.negated else result
    if isinstance(node, IsNull):
        test = _is_null(attrs, node.name)
        return ~test if node.negated else test
    if isinstance(node, Not):
        return ~_predicate(node.arg, attrs)
    left = _predicate(node.left, attrs)
    right = _predicate(node.right, attrs)
    return left & right if isinstance(node, And) else left | right


_SPLIT = 134217729.0  # 2**27 + 1: Veltkamp's splitting constant for doubles


def _round_2dp(value: ir.FloatingValue) -> ir.FloatingValue:
    """Exactly Python's ``round(value, 2)``: the exact binary value rounded half to even.

    ``y = value * 100`` is rounded by the floating-point multiply; it can only land on a tie
    ``k + 0.5`` that the exact product is not on. Dekker's error-free product recovers the
    exact rounding error of that multiply from plain double arithmetic (split ``value`` into
    two 26-bit halves; their products by 100 are exact), so a tie is decided by the sign of the
    error, and only a true tie goes to the even neighbour.
    """
    y = value * 100.0
    low = y.floor()
    fraction = y - low
    c = value * _SPLIT
    high = c - (c - value)
    error = ((high * 100.0) - y) + ((value - high) * 100.0)
    even = ibis.ifelse((low % 2) == 0, low, low + 1)
    at_tie = ibis.cases((error > 0, low + 1), (error < 0, low), else_=even)
    rounded = ibis.cases((fraction > 0.5, low + 1), (fraction < 0.5, low), else_=at_tie)
    return (rounded / 100.0).cast("float64")


# A valid_for this long bounds nothing: no record is 1,000 years old.
_FOREVER_DAYS = 365_000


def _countable(scheme: Scheme, r: ir.Table, t: ir.DateScalar) -> ir.BooleanValue:
    """True for a record some rule could count: its code matches and it is young enough.

    A rule's term is written as a date bound on ``occurred_at`` (``> as_of - days``; for
    calendar months 31 days a month, a bound that every counting record meets), which Parquet
    readers can use to skip row groups; the bound is computed from the as-of literal in SQL, so
    a caller may substitute the date in the compiled text.
    """
    # Exact codes are grouped by their bound into one IN list each (cheaper than a chain of
    # ORs of equalities); prefix and ``*`` matches stay as they are.
    exact: dict[int | None, list[str]] = {}
    others: list[tuple[Rule, int | None]] = []
    for rule in scheme.rules:
        term = rule.longest_term
        if term is not None and term.most_days == 0:
            continue  # nothing is younger than 0 days
        # Exact for days; for calendar months a bound that keeps every record that counts
        # (no month is longer than 31 days), made exact by the rule's own condition.
        days = term.most_days if term is not None and term.most_days < _FOREVER_DAYS else None
        if rule.match == "*" or rule.match.endswith(".*"):
            others.append((rule, days))
        elif rule.match not in exact.setdefault(days, []):
            exact[days].append(rule.match)

    def bounded(condition: ir.BooleanValue, days: int | None) -> ir.BooleanValue:
        if days is None:
            return condition
        return condition & (r.occurred_at > t - ibis.interval(days=days))

    parts = [
        bounded(r.code == codes[0] if len(codes) == 1 else r.code.isin(codes), days)
        for days, codes in sorted(exact.items(), key=lambda item: (item[0] is None, item[0] or 0))
    ]
    parts += [bounded(_match(rule, r.code), days) for rule, days in others]
    if not parts:
        return ibis.literal(False)
    result = parts[0]
    for part in parts[1:]:
        result = result | part
    return result


def _read(scheme: Scheme, considered: ir.Table, t: ir.DateScalar) -> ir.Table:
    """The records of ``considered`` that the scheme reads at all: those some rule could count,
    the clearing records of a case, and the consent records ``[eligibility]`` reads.

    The rules, the clearing and the eligibility each read a ``view`` of it, which Ibis writes
    as one common table (a CTE) instead of merging each one's filter into a scan of the records
    of its own: one scan of the records where there were three.
    """
    needed = _countable(scheme, considered, t)
    clearing = sorted({code for rule in scheme.rules for code in rule.cleared_by})
    if clearing:
        needed = needed | (
            considered.code.isin(clearing)
            & considered.case_id.notnull()
            & (considered.case_id != "")
        )
    consent = eligibility_codes(scheme)
    if consent:
        needed = needed | considered.code.isin(list(consent))
    return considered.filter(needed)


def _clearing(
    considered: ir.Table, r: ir.Table, scheme: Scheme
) -> tuple[ir.Table, dict[tuple[str, ...], str]]:
    """Add to ``r``, per distinct ``cleared_by`` set, the latest date of a clearing record of
    ``considered`` in the case.

    Only records with a case can be cleared, and only records with a clearing code clear: those
    few are aggregated per ``(subject_id, case_id)`` and joined back, which is far cheaper than
    a window over every record.
    """
    sets = sorted({tuple(sorted(set(rule.cleared_by))) for rule in scheme.rules if rule.cleared_by})
    if not sets:
        return r, {}
    names = {codes: f"cleared_on_{k}" for k, codes in enumerate(sets)}
    all_codes = sorted({code for codes in sets for code in codes})
    clearers = considered.filter(
        considered.case_id.notnull(), considered.case_id != "", considered.code.isin(all_codes)
    )
    latest = clearers.group_by(["subject_id", "case_id"]).aggregate(
        **{
            names[codes]: ibis.ifelse(
                clearers.code.isin(list(codes)), clearers.occurred_at, ibis.null("date")
            ).max()
            for codes in sets
        }
    )
    joined = r.left_join(
        latest,
        [r.subject_id == latest.subject_id, r.case_id == latest.case_id],
    ).select(r, *(latest[name] for name in names.values()))
    return joined, names


def _term_end(
    rule: Rule, r: ir.Table, t: ir.DateScalar, age: ir.IntegerValue, attrs: ir.JSONValue | None
) -> tuple[ir.BooleanValue, ir.NumericValue] | None:
    """Whether each record is inside its term under ``rule``, and the term's length in days
    (None: no ``valid_for``, it counts for ever)."""
    spec = rule.valid_for
    if spec is None:
        return None
    if isinstance(spec, TermFrom):
        assert attrs is not None
        value = attrs[spec.attr].float
        # Between -1 and the max's count, so that floor() never meets a number too big for an
        # integer (DuckDB casts it even where the value >= 0 guard is false); -1 stays negative.
        bounded = ibis.greatest(ibis.least(value, ibis.literal(float(spec.most_units))), -1.0)
        whole = ((value >= 0) & (bounded.floor().cast("float64") == bounded)).fill_null(False)
        base = ibis.ifelse(whole, bounded * float(spec.size), float(spec.default_base))
        if spec.calendar:
            months = base.cast("int32").as_interval("M")
            ends = (r.occurred_at + months).cast("date")
            return t < ends, ends.delta(r.occurred_at, unit="day")
        return age < base, base
    term = parse_term(spec)
    if term.months is not None:
        # Calendar months: the term ends on the record's date plus the months, the day of the
        # month clamped to the month's end (DuckDB, PostgreSQL and Spark 3 all clamp).
        ends = (r.occurred_at + ibis.interval(months=term.months)).cast("date")
        return t < ends, ends.delta(r.occurred_at, unit="day")
    assert term.days is not None
    return age < term.days, ibis.literal(term.days)


def _rule_terms(
    rule: Rule,
    r: ir.Table,
    t: ir.DateScalar,
    age: ir.IntegerValue,
    attrs: ir.JSONValue | None,
    cleared_on: dict[tuple[str, ...], str],
) -> tuple[ir.BooleanValue, ir.FloatingValue]:
    """Whether each record counts for ``rule``, and the points it adds when it does."""
    longest = rule.longest_term
    if longest is not None and longest.most_days == 0:  # nothing counts
        return ibis.literal(False), ibis.literal(0.0)
    match = _match(rule, r.code)
    condition: ir.BooleanValue = ibis.literal(True)
    within = _term_end(rule, r, t, age, attrs)
    if within is not None:
        condition = within[0]
    codes = tuple(sorted(set(rule.cleared_by)))
    if codes:
        latest = r[cleared_on[codes]]
        condition = condition & ~(latest.notnull() & (latest >= r.occurred_at))
    predicate = rule.predicate
    if predicate is not None:
        assert attrs is not None
        # CASE, not AND: the JSON is only parsed for records the rest already admits.
        condition = ibis.ifelse(
            condition.fill_null(False), _predicate(predicate, attrs).fill_null(False), False
        )
    points: ir.FloatingValue = ibis.literal(float(rule.unit_points))
    if isinstance(rule.points, PointsPer):
        assert attrs is not None
        units = attrs[rule.points.per].float
        condition = condition & (units >= 0).fill_null(False)
        units = ibis.ifelse(units < SMALLEST_UNITS, 0.0, units)  # as PointsPer.units
        points = points * ibis.least(units, ibis.literal(float(rule.points.max_units)))
    # CASE on the match, not AND: the rest (a calendar term, the clearing test, the JSON) is
    # evaluated for the records of the rule's codes only, not for every countable record.
    counts = ibis.ifelse(match.fill_null(False), condition.fill_null(False), False)
    if rule.decay == "linear" and within is not None:
        # A term of 0 days counts nothing; NULLIF keeps every engine from dividing by zero.
        length = within[1].cast("float64").nullif(0.0)
        return counts, points * (1.0 - age.cast("float64") / length)
    return counts, points


_EXACT_NUMERATOR = 2**20


def _constant_points(rule: Rule) -> float | None:
    """The points every counting record of ``rule`` adds, when that is one number whose
    multiples are exact: then ``count × points`` is the sum the reference evaluator adds up
    record by record, bit for bit. None when the points vary (per unit, linear decay) or a
    multiple may round.

    A double is ``m × 2**e`` with ``m`` an integer; ``j × points`` is exact while ``j × |m|``
    fits in 53 bits, so with ``|m| <= 2**20`` every partial sum of up to ``2**33`` records is
    exact, and so is the product (integers, halves, quarters... qualify; 33.3 does not).
    """
    if isinstance(rule.points, PointsPer) or rule.decay == "linear":
        return None
    points = float(rule.unit_points)
    numerator, _ = points.as_integer_ratio()
    return points if abs(numerator) <= _EXACT_NUMERATOR else None


def compile_scheme(
    scheme: Scheme,
    records: ir.Table,
    as_of: date,
    subjects: ir.Table | None = None,
    peer: ir.Table | None = None,
    *,
    ordered: bool = True,
) -> ir.Table:
    """The standings of ``scheme`` as of ``as_of`` as one Ibis expression.

    ``peer`` (``subject_id, peer_score``) is required exactly when the scheme has ``[peer]``.
    Rows are sorted by ``subject_id`` unless ``ordered`` is false: on Spark a global sort runs
    the whole query twice (its range partitioning samples the input first), and sorting the
    standings in the driver is cheaper.
    """
    if (scheme.peer is None) != (peer is None):
        raise ValueError(f"scheme {scheme.id}: a peer table goes with a [peer] section, only")
    t = ibis.literal(as_of, type="date")
    kinded = records.filter(
        records.subject_kind.isin(list(scheme.subject_kinds)), records.occurred_at <= t
    )
    considered = kinded.select("subject_id", "code", "occurred_at", "case_id", "attrs")
    read = _read(scheme, considered, t)
    counted = read.view()
    r = counted.filter(_countable(scheme, counted, t))
    r, cleared_on = _clearing(read.view(), r, scheme)
    age = t.delta(r.occurred_at, unit="day")
    # JSONB: on PostgreSQL, Ibis's unwraps of plain JSON compile to invalid SQL with the
    # pinned sqlglot; DuckDB treats both the same.
    reads = any(rule.attributes_read for rule in scheme.rules)
    attrs = r.attrs.cast(dt.JSON(binary=True)) if reads else None
    columns: dict[str, Any] = {}
    for i, rule in enumerate(scheme.rules):
        counts, amount = _rule_terms(rule, r, t, age, attrs, cleared_on)
        columns[f"c{i}"] = counts
        if _constant_points(rule) is None:  # CASE: the amount only where the record counts
            columns[f"p{i}"] = ibis.ifelse(counts, amount, 0.0)
    scored = r.select(r.subject_id, **columns) if columns else r.select(r.subject_id)
    # Per rule, the number of counting records (COUNT(*) FILTER), and the sum of their points
    # where these vary; a constant rule's total is that number times its points, in the
    # standings (see _constant_points).
    aggregates: dict[str, Any] = {}
    for i, rule in enumerate(scheme.rules):
        aggregates[f"n{i}"] = scored.count(where=scored[f"c{i}"])
        if _constant_points(rule) is None:
            aggregates[f"s{i}"] = scored[f"p{i}"].sum()
    chosen = _scored_subjects(scheme, records, subjects, read.view(), t)
    if aggregates:
        per_subject = scored.group_by("subject_id").aggregate(**aggregates)
    else:
        # No rules: nothing to sum, but the query still reads the records as of the date (so
        # the as-of literal stays in the SQL, where the lab's StepScorer substitutes it).
        per_subject = considered.select("subject_id").distinct()
    per_subject = chosen.left_join(per_subject, "subject_id").select(
        chosen.subject_id, *(per_subject[name] for name in aggregates)
    )
    if scheme.peer is not None and peer is not None:
        prior = float(scheme.peer.prior)
        per_subject = per_subject.left_join(peer, "subject_id").select(
            per_subject,
            peer_score=peer.peer_score.cast("float64").fill_null(prior),
        )
    standings = _standings(scheme, per_subject)
    return standings.order_by("subject_id") if ordered else standings


def _scored_subjects(
    scheme: Scheme,
    records: ir.Table,
    subjects: ir.Table | None,
    considered: ir.Table,
    t: ir.DateScalar,
) -> ir.Table:
    """The distinct ``subject_id`` of the subjects the scheme scores: the registered subjects of
    its kinds (ledger mode) or every subject a record of its kinds names, whatever its date (as
    ingest registers them), that ``[eligibility]`` admits."""
    if subjects is not None:
        chosen = subjects.filter(subjects.kind.isin(list(scheme.subject_kinds)))
        chosen = chosen.select("subject_id", "kind")
    else:
        named = records.filter(records.subject_kind.isin(list(scheme.subject_kinds)))
        chosen = named.select("subject_id", kind=named.subject_kind)
    if scheme.eligibility is None:
        return chosen.select("subject_id").distinct()
    chosen = eligible_subjects(scheme, chosen, considered, t, named_by_records=subjects is None)
    # Distinct rows of (subject_id, kind): with one kind the identifiers are distinct already,
    # and a second DISTINCT would only group them again.
    chosen = chosen.select("subject_id")
    return chosen.distinct() if len(scheme.subject_kinds) > 1 else chosen


def compile_unbound(
    scheme: Scheme,
    as_of: date,
    *,
    records: str = "records",
    subjects: str | None = None,
    peer: str = "peer_scores",
) -> ir.Table:
    """:func:`compile_scheme` over unbound tables named ``records`` (and ``subjects`` in ledger
    mode, ``peer`` for a scheme with ``[peer]``), for SQL."""
    records_table = ibis.table(
        {
            "subject_id": "string",
            "subject_kind": "string",
            "code": "string",
            "occurred_at": "date",
            "case_id": "string",
            "attrs": "string",
        },
        name=records,
    )
    subjects_table = (
        ibis.table({"subject_id": "string", "kind": "string"}, name=subjects)
        if subjects is not None
        else None
    )
    peer_table = None
    if scheme.peer is not None:
        peer_table = ibis.table({"subject_id": "string", "peer_score": "float64"}, name=peer)
    return compile_scheme(scheme, records_table, as_of, subjects_table, peer_table)


def _standings(scheme: Scheme, per_subject: ir.Table) -> ir.Table:
    # Each stage is its own projection (Ibis keeps them as subqueries), so every value is
    # computed once and referenced by name instead of being inlined again and again.
    total: ir.FloatingValue = ibis.literal(float(scheme.base))
    if scheme.peer is not None:
        total = total + per_subject.peer_score * float(scheme.peer.weight)
    counting: dict[str, Any] = {}
    for i, rule in enumerate(scheme.rules):
        count = per_subject[f"n{i}"].fill_null(0)
        constant = _constant_points(rule)
        rule_total: ir.FloatingValue
        if constant is None:
            rule_total = per_subject[f"s{i}"].fill_null(0.0)
        else:
            rule_total = count.cast("float64") * constant
        if rule.cap is not None:
            rule_total = ibis.greatest(ibis.least(rule_total, rule.cap), -rule.cap)
        total = total + rule_total
        counting[f"k{i}"] = count > 0
    if scheme.floor is not None:
        total = ibis.greatest(total, scheme.floor)
    if scheme.ceiling is not None:
        total = ibis.least(total, scheme.ceiling)
    stage = per_subject.select("subject_id", total=total.cast("float64"), **counting)
    stage = stage.mutate(score=_round_2dp(stage.total))
    stage = stage.mutate(grade_index=_grade_index(scheme, stage))
    index_of = {rule.id: i for i, rule in enumerate(scheme.rules)}
    members: dict[str, ir.BooleanValue] = {}
    for lst in scheme.lists:
        member = _in_grades(scheme, stage.grade_index, lst.grades)
        for rule_id in lst.rules:
            member = member | stage[f"k{index_of[rule_id]}"]
        members[f"l_{lst.id}"] = member
    stage = stage.mutate(**members) if members else stage
    applies: dict[str, ir.BooleanValue] = {}
    for measure in scheme.measures:
        applied = _in_grades(scheme, stage.grade_index, measure.grades)
        for list_id in measure.lists:
            applied = applied | stage[f"l_{list_id}"]
        applies[measure.id] = applied
    grade = ibis.cases(*((stage.grade_index == i, g.name) for i, g in enumerate(scheme.grades)))
    return stage.select(
        subject_id=stage.subject_id,
        score=stage.score,
        grade=grade,
        lists=_joined({lst.id: stage[f"l_{lst.id}"] for lst in scheme.lists}),
        measures=_joined(applies),
    )


def _grade_index(scheme: Scheme, stage: ir.Table) -> ir.IntegerValue:
    """The final grade's index: the score's grade, replaced by the worst grade a counting rule
    assigns, made no better than any counting rule's veto (docs/schemes.md, step 4)."""
    last = scheme.lowest_scored_grade
    branches = [
        (stage.score >= g.min, i)
        for i, g in ((i, scheme.grades[i]) for i in scheme.scored_grades)
        if g.min is not None
    ]
    grade_index: ir.IntegerValue = (
        ibis.cases(*branches, else_=last) if branches else ibis.literal(last)
    )
    assigned = [
        (stage[f"k{i}"], scheme.grade_index(rule.grade))
        for i, rule in enumerate(scheme.rules)
        if rule.grade is not None
    ]
    if assigned:
        # The worst grade any counting rule assigns replaces the score's grade.
        worst_assigned: ir.IntegerValue = ibis.literal(-1)
        for counts, index in assigned:
            worst_assigned = ibis.greatest(worst_assigned, ibis.ifelse(counts, index, -1))
        grade_index = ibis.ifelse(worst_assigned >= 0, worst_assigned, grade_index)
    for i, rule in enumerate(scheme.rules):
        if rule.veto is not None:
            veto = scheme.grade_index(rule.veto)
            grade_index = ibis.greatest(grade_index, ibis.ifelse(stage[f"k{i}"], veto, 0))
    return grade_index


def _in_grades(
    scheme: Scheme, grade_index: ir.IntegerValue, grades: tuple[str, ...]
) -> ir.BooleanValue:
    indexes = sorted({scheme.grade_index(g) for g in grades})
    if not indexes:
        return ibis.literal(False)
    return grade_index.isin(indexes)


def _joined(flags: dict[str, ir.BooleanValue]) -> ir.StringValue:
    if not flags:
        return ibis.literal("")
    parts = [ibis.ifelse(flags[name], name, ibis.null("string")) for name in sorted(flags)]
    return ibis.literal(";").join(parts).fill_null("")
