"""Assumptions of the synthetic conduct model: base rates, group multipliers, fulfilments.

These are example values chosen for a plausible mix, not statistics: about two records per
subject and year, mostly minor (traffic tickets, late utility bills, volunteering), with rare
serious findings. Each table is documented where it is defined.

* :data:`RATES`: for each code, who reports it, its yearly rate per person and per
  organization (a population average), the multiplier profile that applies, the attributes its
  records carry and whether they have a case id and a document reference.
* Group multipliers by region and by band, per profile; :func:`group_multipliers` normalizes
  them to a population mean of 1 so the base rates stay averages.
* :data:`FULFILMENTS`: which listings may be followed by a fulfilment with the same case id,
  how likely and after how long (median delay in days).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from xinyong.synth.population import INCOME_BANDS, PERSON, REGIONS, SIZE_BANDS

__all__ = [
    "FULFILMENTS",
    "INCOME_FULFILMENT",
    "INCOME_MULTIPLIERS",
    "RATES",
    "REGION_MULTIPLIERS",
    "SIZE_FULFILMENT",
    "SIZE_MULTIPLIERS",
    "Amount",
    "AttrSpec",
    "CodeRate",
    "Fulfilment",
    "Pick",
    "Profile",
    "Whole",
    "group_multipliers",
]


class Profile(StrEnum):
    """Which group multipliers apply to a code."""

    DEBT = "debt"
    TAX = "tax"
    CONDUCT = "conduct"
    CIVIC = "civic"


@dataclass(frozen=True, slots=True)
class Amount:
    """A whole number of yuan, lognormal around a median that depends on the subject kind."""

    person_median: float
    org_median: float
    sigma: float = 1.0


@dataclass(frozen=True, slots=True)
class Pick:
    """One of a few values, with optional weights (uniform when None)."""

    values: tuple[int | float | str | bool, ...]
    weights: tuple[float, ...] | None = None


@dataclass(frozen=True, slots=True)
class Whole:
    """A whole number, uniform in ``[low, high]``."""

    low: int
    high: int


AttrSpec = Amount | Pick | Whole


@dataclass(frozen=True, slots=True)
class CodeRate:
    """How often a code occurs, who reports it and what its records carry."""

    code: str
    source: str
    person_rate: float
    """Records per person and year (population average)."""
    org_rate: float
    """Records per organization and year (population average)."""
    profile: Profile
    attrs: Mapping[str, AttrSpec] = field(default_factory=dict)
    case_prefix: str | None = None
    """Records carry a case id ``PREFIX-YEAR-NNNNNNNN`` when set (required for listings)."""
    evidence: bool = False
    """Records cite a document (``doc:SOURCE/YEAR/NNNNNNNNN``) when true."""
    once: bool = False
    """A subject has at most one such record (an enterprise is established once)."""


@dataclass(frozen=True, slots=True)
class Fulfilment:
    """A later record that closes a listing, sharing its case id."""

    listing: str
    """The listing code this fulfilment closes."""
    code: str
    source: str
    probability: float
    """Chance that a listing is fulfilled at all (before band and risk adjustments)."""
    median_days: float
    """Median delay after the listing (lognormal)."""
    evidence: bool = False
    by_band: bool = True
    """Richer and lower-risk subjects fulfil more often; False: the same chance for all (a
    follow-up that is not a fulfilment, such as the breach of a commitment)."""


_COURT_GROUNDS = (1, 2, 3, 4, 5, 6)
_SHARES_OF_DUE = tuple(k / 100 for k in range(2, 61))

RATES: tuple[CodeRate, ...] = (
    # --- police
    CodeRate(
        "traffic.violation",
        "police",
        0.55,
        0.0,
        Profile.CONDUCT,
        {"points": Pick((0, 1, 3, 6, 9, 12), (0.30, 0.30, 0.25, 0.10, 0.04, 0.01))},
    ),
    CodeRate("traffic.drunk_driving", "police", 0.003, 0.0, Profile.CONDUCT, evidence=True),
    CodeRate("utility.equipment_damage", "police", 0.001, 0.002, Profile.CONDUCT, evidence=True),
    CodeRate(
        "finance.fraud",
        "police",
        0.0004,
        0.001,
        Profile.CONDUCT,
        {"amount": Amount(50_000, 800_000)},
        evidence=True,
    ),
    # --- utilities
    CodeRate(
        "utility.late_fee",
        "utility",
        0.35,
        0.25,
        Profile.DEBT,
        {"amount": Amount(180, 2_500, 0.9), "months": Whole(1, 6)},
        case_prefix="BILL",
    ),
    CodeRate(
        "utility.theft",
        "utility",
        0.002,
        0.004,
        Profile.CONDUCT,
        {"amount": Amount(2_000, 20_000)},
        evidence=True,
    ),
    # --- banks
    CodeRate(
        "finance.bank_arrears",
        "bank",
        0.12,
        0.08,
        Profile.DEBT,
        {"amount": Amount(6_000, 150_000), "months": Whole(1, 12)},
        case_prefix="ARR",
    ),
    CodeRate(
        "finance.contract_default",
        "bank",
        0.035,
        0.04,
        Profile.DEBT,
        {
            "amount": Amount(30_000, 500_000, 1.1),
            "channel": Pick(
                ("bank", "credit_card", "consumer_finance", "online_lender"),
                (0.35, 0.30, 0.20, 0.15),
            ),
        },
        case_prefix="LOAN",
    ),
    # --- courts
    CodeRate(
        "court.breach_judgment",
        "court",
        0.02,
        0.08,
        Profile.DEBT,
        {"amount": Amount(40_000, 300_000)},
        case_prefix="CIV",
        evidence=True,
    ),
    CodeRate(
        "court.defaulter",
        "court",
        0.012,
        0.03,
        Profile.DEBT,
        {
            "amount": Amount(60_000, 800_000, 1.2),
            "ground": Pick(_COURT_GROUNDS, (0.62, 0.05, 0.10, 0.13, 0.05, 0.05)),
            "aggravated": Pick((False, True), (0.92, 0.08)),
        },
        case_prefix="EXE",
        evidence=True,
    ),
    # --- tax bureau
    # Organizations' tax rates are set so that the tax-credit pilot's grades spread the way
    # the real rating's do (4.89% A... 7.01% D of 25.69M taxpayers in 2019 are national shares;
    # the example deductions are not the real indicator system, so only the spread is aimed at).
    CodeRate(
        "tax.late_filing",
        "tax",
        0.05,
        1.2,
        Profile.TAX,
        {"days_late": Whole(1, 90)},
    ),
    CodeRate(
        "tax.late_payment",
        "tax",
        0.02,
        0.5,
        Profile.TAX,
        {"amount": Amount(3_000, 40_000), "days_late": Whole(1, 120)},
    ),
    CodeRate("tax.new_taxpayer", "tax", 0.0, 0.06, Profile.TAX, once=True),
    CodeRate("tax.no_revenue", "tax", 0.0, 0.05, Profile.TAX),
    CodeRate(
        "tax.crime",
        "court",
        0.00005,
        0.004,
        Profile.TAX,
        {
            "offence": Pick(
                ("evasion", "arrears_evasion", "export_rebate_fraud", "false_vat_invoices"),
                (0.5, 0.1, 0.1, 0.3),
            ),
            "amount": Amount(150_000, 2_000_000, 1.0),
        },
        evidence=True,
    ),
    CodeRate(
        "tax.evasion",
        "tax",
        0.0008,
        0.02,
        Profile.TAX,
        {"amount": Amount(80_000, 400_000, 1.2), "share_of_due": Pick(_SHARES_OF_DUE)},
        case_prefix="TAX",
        evidence=True,
    ),
    CodeRate(
        "tax.invoice_fraud",
        "tax",
        0.0001,
        0.03,
        Profile.TAX,
        {"amount": Amount(200_000, 1_000_000)},
        evidence=True,
    ),
    # --- market regulator
    CodeRate(
        "market.admin_penalty",
        "samr",
        0.002,
        0.08,
        Profile.CONDUCT,
        {"amount": Amount(3_000, 30_000), "warning_only": Pick((False, True), (0.8, 0.2))},
        evidence=True,
    ),
    CodeRate(
        "market.abnormal_operations",
        "samr",
        0.0,
        0.06,
        Profile.CONDUCT,
        {
            "reason": Pick(
                (
                    "annual_report_not_filed",
                    "unreachable_at_address",
                    "false_disclosure",
                    "disclosure_not_corrected",
                ),
                (0.60, 0.30, 0.05, 0.05),
            )
        },
        case_prefix="ABN",
        evidence=True,
    ),
    CodeRate(
        "market.product_safety",
        "samr",
        0.0002,
        0.005,
        Profile.CONDUCT,
        {"amount": Amount(20_000, 200_000)},
        evidence=True,
    ),
    CodeRate(
        "market.false_advertising",
        "samr",
        0.0003,
        0.02,
        Profile.CONDUCT,
        {"amount": Amount(10_000, 80_000)},
        evidence=True,
    ),
    CodeRate(
        "finance.pyramid_selling",
        "samr",
        0.0003,
        0.0005,
        Profile.CONDUCT,
        evidence=True,
    ),
    # --- city government and other bodies
    CodeRate(
        "finance.illegal_fundraising",
        "city",
        0.0002,
        0.001,
        Profile.CONDUCT,
        {"amount": Amount(500_000, 5_000_000, 1.2)},
        evidence=True,
    ),
    CodeRate(
        "env.pollution_violation",
        "environment",
        0.0,
        0.01,
        Profile.CONDUCT,
        {"amount": Amount(100_000, 200_000)},
        evidence=True,
    ),
    # --- pro-social conduct
    CodeRate(
        "civic.blood_donation",
        "redcross",
        0.12,
        0.0,
        Profile.CIVIC,
        {"ml": Pick((200, 300, 400), (0.3, 0.3, 0.4))},
    ),
    CodeRate(
        "civic.volunteer_service",
        "city",
        0.45,
        0.0,
        Profile.CIVIC,
        {"hours": Whole(2, 40)},
    ),
    CodeRate("civic.commendation", "city", 0.01, 0.01, Profile.CIVIC, evidence=True),
    # --- credit commitments (信用承诺), e.g. for a licence under notification and commitment
    CodeRate(
        "commitment.made",
        "city",
        0.06,
        0.3,
        Profile.CONDUCT,
        {"matter": Pick(("licence", "subsidy", "credit repair"), (0.5, 0.3, 0.2))},
        case_prefix="CMT",
    ),
)
"""Base rates per code (assumptions; see the module docstring)."""

FULFILMENTS: tuple[Fulfilment, ...] = (
    Fulfilment("court.defaulter", "court.judgment_performed", "court", 0.45, 240, evidence=True),
    Fulfilment("finance.contract_default", "finance.repaid", "bank", 0.55, 150),
    Fulfilment("finance.bank_arrears", "finance.repaid", "bank", 0.70, 60),
    Fulfilment("tax.evasion", "tax.paid", "tax", 0.70, 75, evidence=True),
    Fulfilment("utility.late_fee", "utility.paid", "utility", 0.85, 25),
    Fulfilment("market.abnormal_operations", "market.abnormal_removed", "samr", 0.55, 120),
    # Assumption: one credit commitment in ten is found breached, about four months on.
    Fulfilment("commitment.made", "commitment.breached", "city", 0.10, 120, by_band=False),
)
"""Listings that may be followed by a fulfilment with the same case id."""

# Multipliers by region and band, per profile. They are relative: group_multipliers normalizes
# each profile to a population mean of 1.
REGION_MULTIPLIERS: Mapping[Profile, tuple[float, ...]] = {
    Profile.DEBT: (0.9, 1.1, 0.8, 1.4, 1.0),
    Profile.TAX: (1.0, 1.1, 1.2, 0.8, 0.9),
    Profile.CONDUCT: (1.0, 1.2, 0.9, 1.1, 1.0),
    Profile.CIVIC: (1.1, 0.9, 1.0, 0.9, 1.2),
}
"""Rate multipliers by region, in :data:`~xinyong.synth.population.REGIONS` order."""
INCOME_MULTIPLIERS: Mapping[Profile, tuple[float, float, float]] = {
    Profile.DEBT: (1.8, 1.0, 0.5),
    Profile.TAX: (0.7, 1.0, 1.6),
    Profile.CONDUCT: (1.2, 1.0, 0.9),
    Profile.CIVIC: (0.8, 1.0, 1.3),
}
"""Rate multipliers of people by income band (low, middle, high)."""
SIZE_MULTIPLIERS: Mapping[Profile, tuple[float, float, float]] = {
    Profile.DEBT: (1.4, 1.0, 0.6),
    Profile.TAX: (1.0, 1.1, 1.3),
    Profile.CONDUCT: (1.2, 1.0, 0.8),
    Profile.CIVIC: (0.6, 1.0, 2.0),
}
"""Rate multipliers of organizations by size band (small, medium, large)."""

INCOME_FULFILMENT: tuple[float, float, float] = (0.8, 1.0, 1.15)
"""Fulfilment probability factors of people by income band: richer people settle more often."""
SIZE_FULFILMENT: tuple[float, float, float] = (0.85, 1.0, 1.1)
"""Fulfilment probability factors of organizations by size band."""

# Every band table must have one value per band of the population.
if any(
    len(table) != len(INCOME_BANDS) for table in (INCOME_FULFILMENT, *INCOME_MULTIPLIERS.values())
) or any(len(table) != len(SIZE_BANDS) for table in (SIZE_FULFILMENT, *SIZE_MULTIPLIERS.values())):
    raise AssertionError("band multipliers must have one value per band")
if any(len(table) != len(REGIONS) for table in REGION_MULTIPLIERS.values()):
    raise AssertionError("region multipliers must have one value per region")
# A fulfilment is linked to its listing by case id, so every listing must carry one.
if any(rate.case_prefix is None for rate in RATES if rate.code in {f.listing for f in FULFILMENTS}):
    raise AssertionError("every listing with a fulfilment needs a case_prefix")


def group_multipliers(kind: str, profile: Profile) -> npt.NDArray[np.float64]:
    """Region x band multipliers for ``kind`` and ``profile``, with a population mean of 1."""
    bands = INCOME_MULTIPLIERS if kind == PERSON else SIZE_MULTIPLIERS
    band_shares = np.array(
        [r.income_shares if kind == PERSON else r.size_shares for r in REGIONS], dtype=np.float64
    )
    band_shares /= band_shares.sum(axis=1, keepdims=True)
    region_shares = np.array([r.share for r in REGIONS])
    region_shares /= region_shares.sum()
    table = np.outer(np.array(REGION_MULTIPLIERS[profile]), np.array(bands[profile]))
    mean = float((region_shares[:, None] * band_shares * table).sum())
    result: npt.NDArray[np.float64] = table / mean
    return result
