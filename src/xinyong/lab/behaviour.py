"""The behaviour model of the lab: how simulated people respond to a scheme, and what goes wrong.

Base rates of each catalog code by group come from :mod:`xinyong.synth.rates` (example values,
labelled there as assumptions). On top of them, every parameter below has a default and a
``basis``: a source, or the word *assumption* with what informed it. :data:`PARAMETERS` is the
documented table (``docs/lab.md`` prints it, and a test checks the two agree).

How the parameters act, per step and per scheme (the *arm*):

- **Deterrence.** A potential adverse act (a record of a negative code, drawn for the whole
  horizon before any arm runs) happens in an arm with probability
  ``(1 - detection_elasticity * detection) * (1 - sanction_elasticity * sanctioned)``, where
  ``detection`` is 1 when the arm's scheme has a rule that counts the code (0 otherwise) and
  ``sanctioned`` is 1 for a subject under any sanction measure of the arm at the start of the
  step. The control arm (no scheme) keeps every act. Every arm draws against the same uniform
  number per act (common random numbers), so arms differ only by the scheme.
- **Data errors.** ``error_rate`` of all records are wrong: half attached to another subject of
  the same kind, half misdated by up to ``misdate_days``. Errors happen in every arm alike.
- **Objections.** A subject newly listed because of an erroneous record objects with probability
  ``objection_rate`` and wins with ``objection_win_rate``; the erroneous records stop counting
  ``objection_days`` later.
- **Repair.** Each step, every counting adverse record of a listed subject that is past its
  catalog minimum display period is repaired with probability ``repair_rate`` (per 30 days).
- **Ratings** (peer schemes only): see :mod:`xinyong.lab.society`.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from xinyong.i18n import N_

__all__ = ["PARAMETERS", "Behaviour", "Parameter"]


class Behaviour(BaseModel):
    """Behaviour parameters of one experiment (defaults: :data:`PARAMETERS`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    detection_elasticity: float = Field(default=0.10, ge=0, le=1)
    sanction_elasticity: float = Field(default=0.30, ge=0, le=1)
    error_rate: float = Field(default=0.02, ge=0, le=0.5)
    misdate_days: int = Field(default=180, ge=0, le=3650)
    objection_rate: float = Field(default=0.5, ge=0, le=1)
    objection_win_rate: float = Field(default=0.8, ge=0, le=1)
    objection_days: int = Field(default=30, ge=0, le=365)
    repair_rate: float = Field(default=0.05, ge=0, le=1)
    interactions_per_month: float = Field(default=2.0, ge=0, le=100)
    herding: float = Field(default=0.5, ge=0, le=1)
    rating_noise: float = Field(default=0.8, ge=0, le=5)
    quality_mean: float = Field(default=4.2, ge=1, le=5)
    quality_sd: float = Field(default=0.4, ge=0, le=5)
    stigma_threshold: float = Field(default=4.2, ge=0, le=5)
    stigma_penalty: float = Field(default=1.0, ge=0, le=4)
    bad_day_rate: float = Field(default=0.02, ge=0, le=1)
    bad_day_drop: float = Field(default=2.0, ge=0, le=4)
    haywire_drop: float = Field(default=0.5, gt=0)
    peer_seeds: int = Field(default=20, ge=0, le=100_000)


@dataclass(frozen=True, slots=True)
class Parameter:
    """A documented behaviour parameter."""

    name: str
    meaning: str
    basis: str

    @property
    def default(self) -> object:
        """The default value (from :class:`Behaviour`)."""
        return Behaviour.model_fields[self.name].default


PARAMETERS = (
    Parameter(
        "detection_elasticity",
        N_("share of potential adverse acts of a code deterred when the scheme counts that code"),
        N_(
            "assumption: deterrence research finds the certainty of being caught matters more "
            "than severity (Nagin, 'Deterrence in the Twenty-First Century', Crime and Justice "
            "42, 2013); the size of the effect here is not measured"
        ),
    ),
    Parameter(
        "sanction_elasticity",
        N_("share of potential adverse acts deterred while a subject is under a sanction measure"),
        N_(
            "assumption: specific deterrence while sanctioned; no source measures it for these "
            "measures"
        ),
    ),
    Parameter(
        "error_rate",
        N_("share of all records that are wrong (half on the wrong subject, half misdated)"),
        N_(
            "assumption informed by the FTC's 2012 report to Congress under FACTA section 319: "
            "about one consumer in five had a confirmed error in at least one credit report"
        ),
    ),
    Parameter(
        "misdate_days",
        N_("a misdated record is off by up to this many days, earlier or later"),
        N_("assumption"),
    ),
    Parameter(
        "objection_rate",
        N_("share of wrongly listed subjects who object"),
        N_("assumption"),
    ),
    Parameter(
        "objection_win_rate",
        N_("share of those objections upheld"),
        N_(
            "assumption: an erroneous record should be removed on objection; the shortfall models "
            "furnishers who wrongly verify it"
        ),
    ),
    Parameter(
        "objection_days",
        N_("days from the listing to the decision on the objection"),
        N_("the FCRA's 30-day reinvestigation period (15 U.S.C. 1681i); the SPC court list: 15"),
    ),
    Parameter(
        "repair_rate",
        N_(
            "probability per 30 days that an eligible adverse record of a listed subject is "
            "repaired"
        ),
        N_("assumption"),
    ),
    Parameter(
        "interactions_per_month",
        N_("rated interactions per person per 30 days (peer schemes; partners drawn at random)"),
        N_("assumption"),
    ),
    Parameter(
        "herding",
        N_(
            "weight raters give the rated person's visible peer score instead of their own "
            "impression (peer schemes)"
        ),
        N_(
            "assumption: the show's premise; herding on visible ratings is documented for online "
            "ratings (Muchnik, Aral and Taylor, 'Social influence bias', Science 341, 2013)"
        ),
    ),
    Parameter(
        "rating_noise",
        N_("sd of a rater's impression around the rated person's quality, in stars"),
        N_("assumption"),
    ),
    Parameter(
        "quality_mean",
        N_("mean latent quality of people's conduct in interactions, in stars"),
        N_("assumption"),
    ),
    Parameter(
        "quality_sd",
        N_("sd of latent quality between people, in stars (clipped to 1-5)"),
        N_("assumption"),
    ),
    Parameter(
        "stigma_threshold",
        N_("raters mark down anyone whose visible peer score is below this (the show's 4.2 line)"),
        N_("assumption: the show's plot; no measurement"),
    ),
    Parameter(
        "stigma_penalty",
        N_("stars taken off a rating of someone below the stigma threshold"),
        N_("assumption: the show's plot; no measurement"),
    ),
    Parameter(
        "bad_day_rate",
        N_(
            "probability per 30 days that a person has a bad day: every interaction of that step "
            "goes worse (peer schemes; the show's trigger)"
        ),
        N_("assumption"),
    ),
    Parameter(
        "bad_day_drop",
        N_("stars a bad day takes off the person's quality for that step"),
        N_("assumption"),
    ),
    Parameter(
        "haywire_drop",
        N_(
            "a score falling by more than this in one step, with no new adverse record and no bad "
            "day of the subject's own, counts toward the haywire index (score units; stars for "
            "peer schemes)"
        ),
        N_("assumption"),
    ),
    Parameter(
        "peer_seeds",
        N_(
            "simulated people who stand in for an EigenTrust scheme's pre-trusted seeds (the "
            "scheme's own seed ids name nobody in the simulation)"
        ),
        N_("assumption"),
    ),
)
"""Every behaviour parameter, with its meaning and basis."""

if {p.name for p in PARAMETERS} != set(Behaviour.model_fields):
    raise AssertionError("every behaviour parameter must be documented in PARAMETERS")
