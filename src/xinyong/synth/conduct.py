"""Synthetic conduct records: Poisson counts per subject and code, with linked fulfilments.

For each code of :data:`xinyong.synth.rates.RATES` and each subject kind the catalog allows,
a subject's number of records over the window is Poisson with mean

    base rate per year x years x group multiplier x latent propensity

* The **base rates** are assumptions (see :mod:`xinyong.synth.rates`), population averages:
  the group multipliers are normalized to a population mean of 1 and the propensities have
  mean 1.
* The **group multipliers** make rates differ by region and by income band (people) or size
  band (organizations), per conduct profile: debt problems are more frequent in the low income
  band, tax findings in the high one. A fairness audit must find these differences.
* The **propensity** (``risk`` for negative codes, ``civic`` for positive ones) is lognormal,
  so a few subjects accumulate many records.

Listings and their later fulfilments share a ``case_id``: a judgment defaulter may perform the
judgment months later, a loan default be repaid, evaded tax be paid. Fulfilments happen with a
probability that is higher in richer bands and lower for high-risk subjects, after a lognormal
delay; only those dated on or before the window's end are kept. People have no records dated
before their 18th birthday.

Besides the codes of :data:`RATES`: consent to be scored, the meetings and star ratings of
the rating app (:mod:`xinyong.synth.peer`) and who represents and controls each organization
(relation records). Record ids (``SOURCE-TAG-NNNNNNNNN``) and case ids carry a tag of the seed,
so that datasets drawn with different seeds never share one.

Everything is vectorized with NumPy and pyarrow: the Python loops run over codes, never over
records.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from xinyong.domain.catalog import Catalog, CatalogEntry
from xinyong.domain.consent import CONSENT_GIVEN, CONSENT_WITHDRAWN
from xinyong.domain.peer_records import INTERACTION, RATING
from xinyong.synth.peer import SEED_ACCOUNTS, draw_meetings, meeting_ids
from xinyong.synth.population import ORGANIZATION, PERSON, Population
from xinyong.synth.rates import (
    FULFILMENTS,
    INCOME_FULFILMENT,
    RATES,
    SIZE_FULFILMENT,
    Amount,
    AttrSpec,
    CodeRate,
    Fulfilment,
    Profile,
    Whole,
    group_multipliers,
)

__all__ = ["RECORDS_SCHEMA", "generate_conduct"]

RECORDS_SCHEMA = pa.schema(
    [
        ("record_id", pa.string()),
        ("subject_id", pa.string()),
        ("subject_kind", pa.string()),
        ("code", pa.string()),
        ("occurred_at", pa.date32()),
        ("source", pa.string()),
        ("case_id", pa.string()),
        ("attrs", pa.string()),
        ("evidence", pa.string()),
    ]
)
"""Columns of the records file, in order."""


CONSENT_SHARE = 0.9
"""Assumption: the share of people who consent to be scored, once adult (Rongcheng's scheme is
opt-in; no participation rate is sourced in shared/docs/DOMAIN.md)."""
WITHDRAWAL_SHARE = 0.05
"""Assumption: the share of those who later withdraw their consent within the window."""
_CONSENT_SOURCE = "credit-office"
_PEER_SOURCE = "peer-app"
_REGISTRY_SOURCE = "registry"
LEGAL_REPRESENTATIVE = "relation.legal_representative"
ACTUAL_CONTROLLER = "relation.actual_controller"
CONTROLLER_SHARE = 0.2
"""Assumption: the share of organizations whose actual controller is on record."""

_MAX_FULFILMENT_PROBABILITY = 0.97
_DELAY_SIGMA = 0.8
_DAYS_PER_YEAR = 365.25


@dataclass(slots=True)
class _Chunk:
    """Records of one code and subject kind, before sorting and numbering."""

    code: int
    source: str
    evidence: bool
    subject: npt.NDArray[np.int64]
    day: npt.NDArray[np.int32]
    case_id: pa.Array
    attrs: pa.Array


@dataclass(slots=True)
class _Builder:
    population: Population
    catalog: Catalog
    rng: np.random.Generator
    first_day: int
    last_day: int
    tag: str
    """Part of every record and case id, so that two datasets never share one."""
    codes: list[str] = field(default_factory=list)
    chunks: list[_Chunk] = field(default_factory=list)
    case_counters: dict[str, int] = field(default_factory=dict)

    def code_index(self, code: str) -> int:
        if code not in self.codes:
            self.codes.append(code)
        return self.codes.index(code)


def generate_conduct(
    rng: np.random.Generator,
    population: Population,
    catalog: Catalog,
    first: date,
    last: date,
    progress: Callable[[int, int], None] | None = None,
    tag: str = "s0",
) -> pa.Table:
    """Draw conduct records dated ``first``..``last`` (inclusive) for ``population``.

    ``tag`` (the seed's, ``s42``) is part of every record id and case id, so that datasets
    drawn with different seeds can share a ledger.

    Codes of :data:`RATES` that ``catalog`` lacks, or does not allow for a subject kind, are
    skipped, so every record's code is in the catalog. ``progress(done, total)`` is called
    at the start, after each code and after the final sort. Returns a table with
    :data:`RECORDS_SCHEMA`, sorted by ``occurred_at``, ``source`` and ``record_id``.
    """
    if last < first:
        raise ValueError(f"empty window: {first} is after {last}")
    epoch = date(1970, 1, 1)
    builder = _Builder(population, catalog, rng, (first - epoch).days, (last - epoch).days, tag)
    years = ((last - first).days + 1) / _DAYS_PER_YEAR
    steps = len(RATES) + 1  # one per code, and the final sort
    if progress is not None:
        progress(0, steps)
    for done, rate in enumerate(RATES, start=1):
        entry = catalog.get(rate.code)
        if entry is not None:
            for kind in (PERSON, ORGANIZATION):
                per_year = rate.person_rate if kind == PERSON else rate.org_rate
                if per_year > 0 and kind in entry.subject_kinds:
                    _draw_code(builder, rate, entry, kind, per_year * years)
        if progress is not None:
            progress(done, steps)
    _draw_consent(builder)  # after every code: the other records are as they were without it
    _draw_peer(builder)  # the records drawn before are as they were without ratings
    _draw_relations(builder)
    table = _assemble(builder)
    if progress is not None:
        progress(steps, steps)
    return table


def _draw_consent(builder: _Builder) -> None:
    """Consent to be scored (``consent.given``), for :data:`CONSENT_SHARE` of the people, in
    the two months after they are adult or the window opens; later withdrawn
    (``consent.withdrawn``) by :data:`WITHDRAWAL_SHARE` of them."""
    population, rng, catalog = builder.population, builder.rng, builder.catalog
    given, withdrawn = catalog.get(CONSENT_GIVEN), catalog.get(CONSENT_WITHDRAWN)
    if given is None or withdrawn is None or PERSON not in given.subject_kinds:
        return
    subject = np.flatnonzero(rng.random(population.people) < CONSENT_SHARE).astype(np.int64)
    start = np.maximum(builder.first_day, population.adult_from[subject])
    day = (start + rng.integers(0, 61, size=subject.size)).astype(np.int32)
    inside = day <= builder.last_day
    subject, day = subject[inside], day[inside]
    leaving = rng.random(subject.size) < WITHDRAWAL_SHARE
    later = (day[leaving] + rng.integers(1, 731, size=int(leaving.sum()))).astype(np.int32)
    kept = later <= builder.last_day
    for code, who, when in (
        (CONSENT_GIVEN, subject, day),
        (CONSENT_WITHDRAWN, subject[leaving][kept], later[kept]),
    ):
        builder.chunks.append(
            _Chunk(
                code=builder.code_index(code),
                source=_CONSENT_SOURCE,
                evidence=False,
                subject=who,
                day=when,
                case_id=pa.nulls(len(who), pa.string()),
                attrs=_attrs_json({}, len(who)),
            )
        )


def _draw_peer(builder: _Builder) -> None:
    """Meetings and star ratings (:mod:`xinyong.synth.peer`), when the catalog has the peer
    codes and the population the founding accounts."""
    population, catalog = builder.population, builder.catalog
    if catalog.get(INTERACTION) is None or catalog.get(RATING) is None:
        return
    found = pc.is_in(population.subject_id, pa.array(SEED_ACCOUNTS, pa.string()))
    seeds = np.flatnonzero(found.to_numpy(zero_copy_only=False)).astype(np.int64)
    if seeds.size == 0:
        return
    met = draw_meetings(builder.rng, population, seeds, builder.last_day)
    ids = meeting_ids(f"MEET-{builder.tag}", len(met))
    about = np.concatenate([met.first, met.second])
    other = np.concatenate([met.second, met.first])
    day = np.concatenate([met.day, met.day])
    case_id = pa.concat_arrays([ids, ids])
    named = pc.binary_join_element_wise('"', population.subject_id.take(pa.array(other)), '"', "")
    stars = pa.array(np.concatenate([met.stars_for_first, met.stars_for_second])).cast(pa.string())
    for code, attrs in (
        (INTERACTION, {"counterpart": named}),
        (RATING, {"rater": named, "stars": stars}),
    ):
        builder.chunks.append(
            _Chunk(
                code=builder.code_index(code),
                source=_PEER_SOURCE,
                evidence=False,
                subject=about,
                day=day,
                case_id=case_id,
                attrs=_attrs_json(attrs, len(about)),
            )
        )


def _draw_relations(builder: _Builder) -> None:
    """Who stands behind each organization (:mod:`xinyong.domain.relations`): a legal
    representative for every one, and an actual controller for :data:`CONTROLLER_SHARE` of
    them, each an adult person drawn at random, in the role from a day in the window's first
    year (assumptions: nothing is sourced about who represents whom)."""
    population, rng, catalog = builder.population, builder.rng, builder.catalog
    people, size = population.people, population.size
    candidates = np.flatnonzero(population.adult_from[:people] <= builder.first_day).astype(
        np.int64
    )
    candidates = candidates[population.risk[candidates] > 0]  # not the town's own accounts
    if candidates.size == 0 or size == people:
        return
    organizations = np.arange(people, size, dtype=np.int64)
    controlled = organizations[rng.random(organizations.size) < CONTROLLER_SHARE]
    for code, who in (
        (LEGAL_REPRESENTATIVE, organizations),
        (ACTUAL_CONTROLLER, controlled),
    ):
        entry = catalog.get(code)
        if entry is None or ORGANIZATION not in entry.subject_kinds:
            continue
        person = candidates[rng.integers(0, candidates.size, size=who.size)]
        day = (builder.first_day + rng.integers(0, 365, size=who.size)).astype(np.int32)
        named = pc.binary_join_element_wise(
            '"', population.subject_id.take(pa.array(person)), '"', ""
        )
        builder.chunks.append(
            _Chunk(
                code=builder.code_index(code),
                source=_REGISTRY_SOURCE,
                evidence=False,
                subject=who,
                day=day,
                case_id=pa.nulls(who.size, pa.string()),
                attrs=_attrs_json({"person": named}, who.size),
            )
        )


def _draw_code(
    builder: _Builder, rate: CodeRate, entry: CatalogEntry, kind: str, mean: float
) -> None:
    population, rng = builder.population, builder.rng
    people = population.people
    low, high = (0, people) if kind == PERSON else (people, population.size)
    region = population.region[low:high]
    band = population.band[low:high]
    propensity = population.civic if rate.profile is Profile.CIVIC else population.risk
    multiplier = group_multipliers(kind, rate.profile)[region, band]
    counts = rng.poisson(mean * multiplier * propensity[low:high])
    if rate.once:
        counts = np.minimum(counts, 1)
    subject = np.repeat(np.arange(low, high, dtype=np.int64), counts)
    day = rng.integers(builder.first_day, builder.last_day + 1, size=len(subject), dtype=np.int32)
    # No records about minors: drop those dated before the 18th birthday.
    adult = day >= population.adult_from[subject]
    subject, day = subject[adult], day[adult]

    # Only attributes the catalog declares; sorted, so the draws happen in a fixed order.
    values = {
        name: _draw_attr(rng, spec, kind, len(subject), entry, name)
        for name, spec in sorted(rate.attrs.items())
        if name in entry.attrs
    }
    case_id = _case_ids(builder, rate.case_prefix, day)
    builder.chunks.append(
        _Chunk(
            code=builder.code_index(rate.code),
            source=rate.source,
            evidence=rate.evidence,
            subject=subject,
            day=day,
            case_id=case_id,
            attrs=_attrs_json(values, len(subject)),
        )
    )
    for fulfilment in FULFILMENTS:
        if fulfilment.listing == rate.code:
            _draw_fulfilment(builder, fulfilment, kind, subject, day, case_id, values)


def _draw_fulfilment(
    builder: _Builder,
    fulfilment: Fulfilment,
    kind: str,
    subject: npt.NDArray[np.int64],
    day: npt.NDArray[np.int32],
    case_id: pa.Array,
    listing_values: Mapping[str, pa.Array],
) -> None:
    entry = builder.catalog.get(fulfilment.code)
    if entry is None or kind not in entry.subject_kinds:
        return
    population, rng = builder.population, builder.rng
    factors = np.array(INCOME_FULFILMENT if kind == PERSON else SIZE_FULFILMENT)
    probability = np.full(len(subject), fulfilment.probability)
    if fulfilment.by_band:
        # Fourth root: high-risk subjects settle less often, but not dramatically so.
        probability = np.minimum(
            probability * factors[population.band[subject]] / population.risk[subject] ** 0.25,
            _MAX_FULFILMENT_PROBABILITY,
        )
    settled = rng.random(len(subject)) < probability
    delay = np.maximum(
        1, np.rint(rng.lognormal(math.log(fulfilment.median_days), _DELAY_SIGMA, len(subject)))
    ).astype(np.int32)
    later = day + delay
    keep = settled & (later <= builder.last_day)
    # The follow-up repeats the listing's attributes it has too: what was owed is what was
    # paid, the matter committed to is the matter breached.
    carried = {
        name: pc.filter(text, pa.array(keep))
        for name, text in listing_values.items()
        if name in entry.attrs
    }
    builder.chunks.append(
        _Chunk(
            code=builder.code_index(fulfilment.code),
            source=fulfilment.source,
            evidence=fulfilment.evidence,
            subject=subject[keep],
            day=later[keep],
            case_id=pc.filter(case_id, pa.array(keep)),
            attrs=_attrs_json(carried, int(keep.sum())),
        )
    )


def _draw_attr(
    rng: np.random.Generator,
    spec: AttrSpec,
    kind: str,
    count: int,
    entry: CatalogEntry,
    name: str,
) -> pa.Array:
    """Draw ``count`` values of attribute ``name``; return their JSON text."""
    declared = entry.attrs[name]
    if isinstance(spec, Amount | Whole):
        _require_type(entry, name, declared, "number")
        if isinstance(spec, Amount):
            median = spec.person_median if kind == PERSON else spec.org_median
            drawn = np.maximum(1, np.rint(rng.lognormal(math.log(median), spec.sigma, count)))
            numbers = drawn.astype(np.int64)
        else:
            numbers = rng.integers(spec.low, spec.high + 1, size=count, dtype=np.int64)
        # Whole numbers print the same in pyarrow and orjson, so the text is canonical JSON.
        return pa.array(numbers).cast(pa.string())
    for value in spec.values:
        _require_type(entry, name, declared, _json_type(value))
    weights = None if spec.weights is None else np.array(spec.weights) / sum(spec.weights)
    index = rng.choice(len(spec.values), size=count, p=weights)
    # The JSON text of each value comes from orjson, the serializer of canonical attrs.
    texts = pa.array([orjson.dumps(value).decode() for value in spec.values], pa.string())
    return texts.take(pa.array(index))


def _json_type(value: object) -> str:
    if isinstance(value, bool):  # before int: bool is a subclass of int
        return "boolean"
    return "string" if isinstance(value, str) else "number"


def _require_type(entry: CatalogEntry, name: str, declared: str, produced: str) -> None:
    if declared != produced:
        raise ValueError(
            f"synthetic {entry.code}.{name} is a {produced} but the catalog declares {declared}"
        )


def _attrs_json(values: Mapping[str, pa.Array], count: int) -> pa.Array:
    """Canonical JSON object text per record (keys sorted, no spaces) from value texts."""
    if not values:
        return pa.array(["{}"] * count, pa.string()) if count else pa.array([], pa.string())
    parts: list[pa.Array | str] = []
    for position, name in enumerate(sorted(values)):
        opener = "{" if position == 0 else ","
        parts += [f'{opener}"{name}":', values[name]]
    parts.append("}")
    joined: pa.Array = pc.binary_join_element_wise(*parts, "")
    return joined


def _case_ids(builder: _Builder, prefix: str | None, day: npt.NDArray[np.int32]) -> pa.Array:
    if prefix is None:
        return pa.nulls(len(day), pa.string())
    start = builder.case_counters.get(prefix, 0)
    builder.case_counters[prefix] = start + len(day)
    serial = pa.array(np.arange(start + 1, start + 1 + len(day), dtype=np.int64))
    return pc.binary_join_element_wise(
        prefix, builder.tag, _year_text(day), pc.utf8_lpad(serial.cast(pa.string()), 8, "0"), "-"
    )


def _year_text(day: npt.NDArray[np.int32]) -> pa.Array:
    years = day.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    return pa.array(years).cast(pa.string())


def _assemble(builder: _Builder) -> pa.Table:
    chunks = builder.chunks
    sources = sorted({chunk.source for chunk in chunks})
    source_rank = {source: rank for rank, source in enumerate(sources)}
    subject = _concat([c.subject for c in chunks], np.int64)
    day = _concat([c.day for c in chunks], np.int32)
    code = _concat([np.full(len(c.day), c.code, np.int16) for c in chunks], np.int16)
    source = _concat([np.full(len(c.day), source_rank[c.source], np.int8) for c in chunks], np.int8)
    evidence = _concat([np.full(len(c.day), c.evidence, np.bool_) for c in chunks], np.bool_)
    # Stable sort: ties keep generation order, which is itself deterministic.
    order = np.lexsort((source, day))
    subject, day, code, source, evidence = (
        subject[order],
        day[order],
        code[order],
        source[order],
        evidence[order],
    )
    take = pa.array(order)
    case_id = pa.concat_arrays([c.case_id for c in chunks] or [pa.array([], pa.string())])
    attrs = pa.concat_arrays([c.attrs for c in chunks] or [pa.array([], pa.string())])

    # Record numbers count per source in date order, so record_id sorts like the rows.
    serial = np.empty(len(order), dtype=np.int64)
    for rank in range(len(sources)):
        mask = source == rank
        serial[mask] = np.arange(1, int(mask.sum()) + 1)
    source_text = pa.array(sources, pa.string()).take(pa.array(source))
    serial_text = pc.utf8_lpad(pa.array(serial).cast(pa.string()), 9, "0")
    record_id = pc.binary_join_element_wise(source_text, builder.tag, serial_text, "-")
    document = pc.binary_join_element_wise(
        "doc:", source_text, "/", builder.tag, "/", _year_text(day), "/", serial_text, ""
    )
    is_person = pa.array(builder.population.is_person[subject])
    return pa.table(
        [
            record_id,
            builder.population.subject_id.take(pa.array(subject)),
            pc.if_else(is_person, PERSON, ORGANIZATION),
            pa.array(builder.codes, pa.string()).take(pa.array(code)),
            pa.array(day, pa.int32()).cast(pa.date32()),
            source_text,
            case_id.take(take),
            attrs.take(take),
            pc.if_else(pa.array(evidence), document, pa.scalar(None, pa.string())),
        ],
        schema=RECORDS_SCHEMA,
    )


def _concat(arrays: list[npt.NDArray[Any]], dtype: type[np.generic]) -> npt.NDArray[Any]:
    return np.concatenate(arrays).astype(dtype) if arrays else np.empty(0, dtype)
