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
from typing import Literal

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
    friends: int = Field(default=10, ge=2, le=1_000)
    rewire: float = Field(default=0.1, ge=0, le=1)
    circle_share: float = Field(default=0.8, ge=0, le=1)
    bad_mood_drop: float = Field(default=1.0, ge=0, le=4)
    status_line: float = Field(default=0.0, ge=0, le=5)
    status_avoidance: float = Field(default=0.0, ge=0, le=1)
    retaliation_rate: float = Field(default=0.0, ge=0, le=1)
    retaliation_days: int = Field(default=3, ge=1, le=365)
    collusion_rings: int = Field(default=0, ge=0, le=100_000)
    ring_size: int = Field(default=6, ge=2, le=1_000)
    sybils: int = Field(default=0, ge=0, le=100_000)
    sybil_goal: Literal["sink", "boost"] = "sink"
    sybil_delay_days: int = Field(default=28, ge=0, le=36_500)
    target_quantile: float = Field(default=0.5, ge=0, le=1)
    cascade_steps: int = Field(default=4, ge=0, le=1_000)
    misconduct_quality: float = Field(default=3.5, ge=1, le=5)


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
        N_(
            "rated interactions per person per 30 days (peer schemes; partners from the "
            "person's circle or strangers, see circle_share)"
        ),
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
    Parameter(
        "friends",
        N_(
            "size of each person's circle of friends: the neighbours of a small-world graph "
            "(a ring where everyone knows the nearest friends, some ties rewired at random)"
        ),
        N_(
            "assumption: the small-world model (Watts and Strogatz, 'Collective dynamics of "
            "small-world networks', Nature 393, 1998); the size is not measured"
        ),
    ),
    Parameter(
        "rewire",
        N_("share of the circle's ties rewired to a random person (links between circles)"),
        N_("assumption: Watts and Strogatz (1998) find small-world paths from about 0.01"),
    ),
    Parameter(
        "circle_share",
        N_(
            "share of interactions with someone from one's circle (repeated partners); the rest "
            "are with strangers met at random"
        ),
        N_("assumption"),
    ),
    Parameter(
        "bad_mood_drop",
        N_("stars a person having a bad day takes off every rating they give in that step"),
        N_("assumption: the show's plot (a bad day spreads to the people one meets)"),
    ),
    Parameter(
        "status_line",
        N_(
            "status-seeking: people avoid meeting anyone whose visible peer score is below "
            "this line (0: nobody is avoided)"
        ),
        N_("assumption: the show's plot (people shun a low scorer); no measurement"),
    ),
    Parameter(
        "status_avoidance",
        N_("probability that a meeting with someone below the status line is avoided"),
        N_("assumption"),
    ),
    Parameter(
        "retaliation_rate",
        N_(
            "probability that a person rated 2 stars or less rates the rater back 1 star, "
            "within retaliation_days (a reply to a reply too: feuds)"
        ),
        N_(
            "assumption: reciprocal negative ratings are documented on eBay before its 2008 "
            "rule change (Dellarocas and Wood, 'The sound of silence in online feedback', "
            "Management Science 54, 2008); the rate is not measured"
        ),
    ),
    Parameter(
        "retaliation_days",
        N_("a retaliation comes 1 to this many days after the low rating it answers"),
        N_("assumption"),
    ),
    Parameter(
        "collusion_rings",
        N_(
            "collusion rings: groups who meet every step and rate each other 5 stars (the "
            "first ring includes the target)"
        ),
        N_("assumption"),
    ),
    Parameter(
        "ring_size",
        N_("members of each collusion ring"),
        N_("assumption"),
    ),
    Parameter(
        "sybils",
        N_(
            "fake accounts created to sink or boost the target: each meets the target and "
            "rates it every step, and rates the next fake account 5 stars"
        ),
        N_("assumption: the sybil attack (Douceur, 'The Sybil Attack', IPTPS 2002)"),
    ),
    Parameter(
        "sybil_goal",
        N_("what the fake accounts do to the target: sink (1 star) or boost (5 stars)"),
        N_("assumption"),
    ),
    Parameter(
        "sybil_delay_days",
        N_("days from the start of the run to the creation of the fake accounts"),
        N_("assumption"),
    ),
    Parameter(
        "target_quantile",
        N_(
            "the target of attacks: the person whose latent quality is at this quantile "
            "(0.5: the median person; the pre-trusted stand-ins are never the target)"
        ),
        N_("assumption"),
    ),
    Parameter(
        "cascade_steps",
        N_(
            "a cascade counts the people pushed below the gate within this many steps of a "
            "bad day (the person and those who rated or were rated by them)"
        ),
        N_("assumption"),
    ),
    Parameter(
        "misconduct_quality",
        N_(
            "real misconduct: a person whose latent quality is below this (in stars); a gate "
            "that lets such a person through misses it"
        ),
        N_("assumption"),
    ),
)
"""Every behaviour parameter, with its meaning and basis."""

if {p.name for p in PARAMETERS} != set(Behaviour.model_fields):
    raise AssertionError("every behaviour parameter must be documented in PARAMETERS")
