"""A complete synthetic dataset: subjects plus their conduct records, and how it is written.

``generate(config)`` is a pure function of its configuration: the seed drives one NumPy
generator, the window ends on a fixed date (never "today"), and every loop runs in a fixed
order. Written with :func:`xinyong.tabular.write_table`, the same configuration therefore gives
byte-identical files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from xinyong.domain.catalog import Catalog, load_catalog
from xinyong.domain.peer_records import INTERACTION
from xinyong.synth.conduct import generate_conduct
from xinyong.synth.peer import SEED_ACCOUNTS, SEED_NAMES
from xinyong.synth.population import generate_population
from xinyong.tabular import STDIO, table_format, write_table

__all__ = [
    "DEFAULT_END",
    "Progress",
    "SynthConfig",
    "SynthDataset",
    "generate",
    "subjects_path",
    "write",
]

DEFAULT_END = date(2026, 10, 31)
"""Default last day of the window: fixed, so that output does not depend on the run date."""

Progress = Callable[[str, int, int], None]
"""Called as ``progress(phase, done, total)``; phases: ``subjects``, ``conduct``, ``writing``."""


@dataclass(frozen=True, slots=True)
class SynthConfig:
    """What to generate."""

    people: int
    organizations: int
    years: int = 5
    seed: int = 0
    end: date = DEFAULT_END

    def __post_init__(self) -> None:
        if self.people < 0 or self.organizations < 0:
            raise ValueError("people and organizations must not be negative")
        if self.years < 1:
            raise ValueError("years must be at least 1")

    @property
    def start(self) -> date:
        """First day of the window: the day after the same date ``years`` years before ``end``."""
        try:
            before = self.end.replace(year=self.end.year - self.years)
        except ValueError:  # 29 February in a year that has none
            before = self.end.replace(year=self.end.year - self.years, day=28)
        return before + timedelta(days=1)


@dataclass(frozen=True, slots=True)
class SynthDataset:
    """The generated tables."""

    config: SynthConfig
    subjects: pa.Table
    records: pa.Table


def generate(
    config: SynthConfig, catalog: Catalog | None = None, progress: Progress | None = None
) -> SynthDataset:
    """Generate subjects and conduct records for ``config`` (bundled catalog by default)."""
    catalog = catalog if catalog is not None else load_catalog()
    rng = np.random.default_rng(config.seed)
    if progress is not None:
        progress("subjects", 0, 1)
    population = generate_population(rng, config.people, config.organizations)
    if catalog.get(INTERACTION) is not None and config.people:
        population = population.with_accounts(SEED_ACCOUNTS, SEED_NAMES)
    if progress is not None:
        progress("subjects", 1, 1)

    def on_code(done: int, total: int) -> None:
        if progress is not None:
            progress("conduct", done, total)

    records = generate_conduct(
        rng, population, catalog, config.start, config.end, on_code, tag=f"s{config.seed}"
    )
    return SynthDataset(config, population.subjects_table(), records)


def subjects_path(out: Path) -> Path:
    """Where the subjects file goes: ``dir/conduct.csv`` -> ``dir/conduct.subjects.csv``."""
    if out == STDIO:
        raise ValueError("the synthetic dataset needs a file path, not standard output")
    table_format(out)  # refuse an unsupported extension before anything is generated
    return out.with_name(f"{out.stem}.subjects{out.suffix}")


def write(dataset: SynthDataset, out: Path, progress: Progress | None = None) -> Path:
    """Write the records to ``out`` and the subjects beside it; return the subjects path.

    ``progress("writing", done, 2)`` is called before and after each file.
    """
    subjects = subjects_path(out)
    for done, (table, path) in enumerate(((dataset.records, out), (dataset.subjects, subjects))):
        if progress is not None:
            progress("writing", done, 2)
        write_table(table, path)
    if progress is not None:
        progress("writing", 2, 2)
    return subjects
