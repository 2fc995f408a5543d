"""Synthetic populations and conduct records for demos, tests and the simulation lab.

Everything here is generated from one seeded NumPy generator, so the same arguments always give
the same data, byte for byte. Identifiers come from the reserved ``00`` region range of
:mod:`xinyong.domain.identifiers` and can never name a real person or organization.

* :mod:`xinyong.synth.population` draws the subjects: people and organizations, their synthetic
  regions and income or size bands, and a latent propensity per subject.
* :mod:`xinyong.synth.conduct` draws their conduct records from the code catalog.
* :mod:`xinyong.synth.dataset` ties both together and writes the two files.
"""

from __future__ import annotations

from xinyong.synth.dataset import DEFAULT_END, SynthConfig, SynthDataset, generate, subjects_path

__all__ = ["DEFAULT_END", "SynthConfig", "SynthDataset", "generate", "subjects_path"]
