"""The simulated world of one replicate: a population and every potential record of the horizon.

All potential conduct is drawn once, before any scheme runs, with the synthetic conduct model
(:mod:`xinyong.synth`), and then shared by every arm of the experiment: each arm only decides,
step by step, which potential adverse acts actually happen under its scheme (deterrence), so
the arms differ by their schemes and nothing else (common random numbers). Data errors are drawn
here too, and are the same in every arm.

Everything is columns (NumPy and Arrow), one row per potential record; nothing is one Python
object per agent.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from xinyong.domain.catalog import Catalog, Polarity
from xinyong.domain.record_table import RECORDS_SCHEMA
from xinyong.lab.behaviour import Behaviour
from xinyong.lab.experiment import Experiment
from xinyong.scoring.ledger_source import SUBJECTS_SCHEMA
from xinyong.synth.conduct import generate_conduct
from xinyong.synth.population import INCOME_BANDS, REGIONS, Population, generate_population

__all__ = ["EPOCH", "World", "build_world"]

EPOCH = date(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class World:
    """One replicate's population and potential records (arrays aligned by record)."""

    population: Population
    subjects: pa.Table
    """Every subject and its kind (:data:`SUBJECTS_SCHEMA`), for ledger-mode scoring."""
    records: pa.Table
    """The records as scoring sees them (:data:`RECORDS_SCHEMA`), errors applied."""
    subject: npt.NDArray[np.int64]
    """Index of the subject a record is attached to (after errors)."""
    day: npt.NDArray[np.int32]
    """``occurred_at`` as days since 1970-01-01 (after errors)."""
    step: npt.NDArray[np.int32]
    """The step in which a record becomes known (from its true date)."""
    code: npt.NDArray[np.int16]
    """Index into :attr:`codes`."""
    codes: tuple[str, ...]
    adverse: npt.NDArray[np.bool_]
    """A potential adverse act: a record of a negative code (deterrence applies to these)."""
    erroneous: npt.NDArray[np.bool_]
    uniform: npt.NDArray[np.float64]
    """One uniform number per record, shared by every arm (common random numbers)."""
    listing_of: npt.NDArray[np.int64]
    """For a fulfilment: the index of the adverse record with its case id; else -1."""
    min_display_days: npt.NDArray[np.int32]
    """Per code index: the catalog's minimum display period (repair eligibility)."""
    max_display_days: npt.NDArray[np.int32]
    """Per code index: the catalog's maximum display period (a record expires after it)."""
    peer_quality: npt.NDArray[np.float64]
    """Per subject: latent quality in interactions, 1 to 5 stars (peer schemes' raters)."""
    steps: int
    start: date
    step_days: int
    key: int
    """Mixes the seed and replicate into :meth:`uniform_for`."""

    def uniform_for(
        self, items: npt.NDArray[np.int64], step: int, stream: int
    ) -> npt.NDArray[np.float64]:
        """A uniform number for each item (a subject or record index) at a step, the same in
        every arm: objections and repairs are drawn from these, so arms that reach the same
        situation make the same draw (common random numbers), whatever else they did before."""
        mixed = _splitmix64(
            items.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
            ^ np.uint64((self.key * 1_000_003 + step) * 8 + stream)
        )
        return (mixed >> np.uint64(11)).astype(np.float64) / float(1 << 53)

    def as_of(self, step: int) -> date:
        """The last day of a step (the date standings are computed for)."""
        return self.start + timedelta(days=(step + 1) * self.step_days - 1)


def build_world(experiment: Experiment, catalog: Catalog, replicate: int) -> World:
    """Draw the population, its potential conduct over the horizon, and the data errors."""
    rng = np.random.default_rng([experiment.seed, replicate])
    pop = experiment.population
    population = generate_population(rng, pop.people, pop.organizations)
    population = _apply_shares(population, experiment, rng)
    step_days = experiment.step_days
    steps = max(1, (experiment.years * 365) // step_days)
    last = experiment.start + timedelta(days=steps * step_days - 1)
    raw = generate_conduct(rng, population, catalog, experiment.start, last)

    subject = np.asarray(
        pc.index_in(raw["subject_id"], value_set=population.subject_id).to_numpy(
            zero_copy_only=False
        ),
        dtype=np.int64,
    )
    true_day = np.asarray(raw["occurred_at"].cast(pa.int32()).to_numpy(), dtype=np.int32)
    first_day = (experiment.start - EPOCH).days
    step = ((true_day - first_day) // step_days).astype(np.int32)
    codes = tuple(sorted(set(raw["code"].to_pylist())))
    code = np.asarray(
        pc.index_in(raw["code"], value_set=pa.array(codes)).to_numpy(zero_copy_only=False),
        dtype=np.int16,
    )
    negative = np.array(
        [catalog.codes[c].polarity is Polarity.NEGATIVE for c in codes], dtype=np.bool_
    )
    adverse = negative[code] if len(code) else np.zeros(0, np.bool_)
    n = len(subject)

    erroneous, subject, day = _errors(
        rng, experiment.behaviour, population, subject, true_day, step, first_day, step_days
    )
    uniform = rng.random(n)
    behaviour = experiment.behaviour
    quality = np.clip(
        rng.normal(behaviour.quality_mean, behaviour.quality_sd, population.size), 1.0, 5.0
    )
    listing_of = _fulfilment_links(raw, adverse)
    records = _scoring_table(raw, population, subject, day)
    subjects = pa.table(
        [
            population.subject_id,
            pc.if_else(pa.array(population.is_person), "person", "organization"),
        ],
        schema=SUBJECTS_SCHEMA,
    )
    min_display = np.array([catalog.codes[c].min_display_days for c in codes], dtype=np.int32)
    max_display = np.array([catalog.codes[c].max_display_days for c in codes], dtype=np.int32)
    return World(
        population=population,
        subjects=subjects,
        records=records,
        subject=subject,
        day=day,
        step=step,
        code=code,
        codes=codes,
        adverse=adverse,
        erroneous=erroneous,
        uniform=uniform,
        listing_of=listing_of,
        min_display_days=min_display,
        max_display_days=max_display,
        peer_quality=quality,
        steps=steps,
        start=experiment.start,
        step_days=step_days,
        key=experiment.seed * 1_000 + replicate,
    )


def _splitmix64(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """The SplitMix64 finalizer (Steele, Lea and Flood 2014): a bijective 64-bit mix whose
    outputs pass as independent uniform bits for consecutive inputs."""
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def _apply_shares(
    population: Population, experiment: Experiment, rng: np.random.Generator
) -> Population:
    """Redraw people's regions and income bands when the experiment sets their shares."""
    people = population.people
    region, band = population.region.copy(), population.band.copy()
    shares = experiment.population.region_shares
    if shares is not None:
        p = np.array([shares.get(r.label, 0.0) for r in REGIONS])
        region[:people] = rng.choice(len(REGIONS), size=people, p=p / p.sum()).astype(np.int8)
    income = experiment.population.income_shares
    if income is not None:
        p = np.array([income.get(b, 0.0) for b in INCOME_BANDS])
        band[:people] = rng.choice(len(INCOME_BANDS), size=people, p=p / p.sum()).astype(np.int8)
    return dataclasses.replace(population, region=region, band=band)


def _errors(
    rng: np.random.Generator,
    behaviour: Behaviour,
    population: Population,
    subject: npt.NDArray[np.int64],
    true_day: npt.NDArray[np.int32],
    step: npt.NDArray[np.int32],
    first_day: int,
    step_days: int,
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64], npt.NDArray[np.int32]]:
    """Mark ``error_rate`` of the records wrong: half on another subject, half misdated.

    A misdated record keeps the step in which it became known; its date moves by up to
    ``misdate_days`` but never past the end of that step (nobody records the future).
    """
    n = len(subject)
    erroneous = rng.random(n) < behaviour.error_rate
    kind_of_error = rng.random(n) < 0.5
    wrong_subject = erroneous & kind_of_error
    misdated = erroneous & ~kind_of_error
    subject = subject.copy()
    people = population.people
    is_person = population.is_person[subject]
    for mask, low, high in (
        (wrong_subject & is_person, 0, people),
        (wrong_subject & ~is_person, people, population.size),
    ):
        count = int(mask.sum())
        if count and high - low > 1:
            # another subject of the same kind: shift by 1..size-1 places, wrapping around
            shift = rng.integers(1, high - low, size=count)
            subject[mask] = low + (subject[mask] - low + shift) % (high - low)
    day = true_day.copy()
    count = int(misdated.sum())
    if count and behaviour.misdate_days:
        offset = rng.integers(-behaviour.misdate_days, behaviour.misdate_days + 1, size=count)
        step_end = first_day + (step[misdated] + 1) * step_days - 1
        day[misdated] = np.minimum(day[misdated] + offset, step_end).astype(np.int32)
    return erroneous, subject, day


def _fulfilment_links(raw: pa.Table, adverse: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
    """For each non-adverse record with a case id, the adverse record sharing that case id."""
    n = raw.num_rows
    links = np.full(n, -1, dtype=np.int64)
    case = raw["case_id"]
    adverse_idx = np.flatnonzero(adverse & pc.is_valid(case).to_numpy(zero_copy_only=False))
    if not len(adverse_idx):
        return links
    adverse_cases = pc.take(case, pa.array(adverse_idx))
    other = np.flatnonzero(~adverse)
    position = pc.index_in(pc.take(case, pa.array(other)), value_set=adverse_cases)
    found = position.to_numpy(zero_copy_only=False)
    valid = ~np.isnan(found.astype(np.float64))
    links[other[valid]] = adverse_idx[found[valid].astype(np.int64)]
    return links


def _scoring_table(
    raw: pa.Table,
    population: Population,
    subject: npt.NDArray[np.int64],
    day: npt.NDArray[np.int32],
) -> pa.Table:
    """The records with errors applied, in the scoring engines' schema."""
    is_person = pa.array(population.is_person[subject])
    return pa.table(
        [
            raw["record_id"],
            raw["source"],
            population.subject_id.take(pa.array(subject)),
            pc.if_else(is_person, "person", "organization"),
            raw["code"],
            pa.array(day, pa.int32()).cast(pa.date32()),
            raw["case_id"],
            raw["attrs"],
        ],
        schema=RECORDS_SCHEMA,
    )
