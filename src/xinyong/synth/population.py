"""Synthetic subjects: people and organizations, their groups and latent propensities.

Assumptions (example values for a plausible, not a measured, population):

* Five synthetic regions with population shares; each has its own mix of income bands (people)
  and size bands (organizations), so region and income are correlated as in real data, which
  is exactly what a fairness audit has to untangle.
* People are adults born 1950-2006, uniformly; their resident ID carries the region's reserved
  address code ``00RRRR``, their birth date and an order code unique within region and date
  (odd or even at random, as the sex digit is in real numbers; sex is not otherwise recorded).
* Organizations are enterprises (category 91, 85%), individual businesses (92, 10%) and
  farmers' cooperatives (93, 5%) with a synthetic USCC in the region's ``00RRRR`` division.
* Each subject has two latent propensities, both lognormal with mean 1: ``risk`` scales its
  rates of negative conduct and ``civic`` its rates of pro-social conduct. The heavy right tail
  is what makes a few subjects accumulate many records.

No protected attribute (ethnicity, religion, politics, health, ...) is generated or stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from xinyong.domain.identifiers import SYNTHETIC_PREFIX, synthetic_uscc

__all__ = [
    "BIRTH_FIRST",
    "BIRTH_LAST",
    "INCOME_BANDS",
    "ORGANIZATION",
    "PERSON",
    "REGIONS",
    "SIZE_BANDS",
    "SUBJECTS_SCHEMA",
    "Population",
    "Region",
    "generate_population",
]

PERSON = "person"
ORGANIZATION = "organization"

INCOME_BANDS = ("low", "middle", "high")
"""Income bands of people, lowest first."""

SIZE_BANDS = ("small", "medium", "large")
"""Size bands of organizations, smallest first (stored in the ``income_band`` column)."""

BIRTH_FIRST = date(1950, 1, 1)
BIRTH_LAST = date(2006, 12, 31)

RISK_SIGMA = 0.9
"""Spread (log scale) of the negative-conduct propensity."""

CIVIC_SIGMA = 1.2
"""Spread (log scale) of the pro-social propensity: most people rarely volunteer, a few often."""

_RESIDENT_ID = "^[0-9]{17}[0-9X]$"
SUBJECTS_SCHEMA = pa.schema(
    [
        ("subject_id", pa.string()),
        ("kind", pa.string()),
        ("display_name", pa.string()),
        ("resident_id", pa.string()),
        ("uscc", pa.string()),
        ("region", pa.string()),
        ("income_band", pa.string()),
    ]
)
"""Columns of the subjects file."""


@dataclass(frozen=True, slots=True)
class Region:
    """A synthetic region: its code in identifiers, labels, share and band mixes."""

    code: int
    label: str
    place: str
    share: float
    income_shares: tuple[float, float, float]
    size_shares: tuple[float, float, float]


REGIONS = (
    Region(1, "north", "北原", 0.22, (0.30, 0.52, 0.18), (0.80, 0.16, 0.04)),
    Region(2, "south", "南湾", 0.18, (0.34, 0.50, 0.16), (0.78, 0.17, 0.05)),
    Region(3, "east", "东港", 0.30, (0.20, 0.52, 0.28), (0.70, 0.22, 0.08)),
    Region(4, "west", "西岭", 0.12, (0.45, 0.45, 0.10), (0.86, 0.12, 0.02)),
    Region(5, "central", "中州", 0.18, (0.32, 0.52, 0.16), (0.80, 0.16, 0.04)),
)
"""The synthetic regions (shares sum to 1)."""

# Region codes below 18 keep every synthetic USCC from also reading as a resident ID (see
# synthetic_uscc): checked here so a new region cannot break that silently.
if any(not 0 < region.code < 18 for region in REGIONS):
    raise AssertionError("synthetic region codes must be in 1..17")

_ORG_CATEGORIES = ("91", "92", "93")
_ORG_CATEGORY_SHARES = (0.85, 0.10, 0.05)

# The 30 most common family names with their approximate shares (percent) of the population.
_FAMILY_NAMES = (
    ("王", 7.1),
    ("李", 7.0),
    ("张", 6.7),
    ("刘", 5.4),
    ("陈", 4.5),
    ("杨", 3.1),
    ("黄", 2.2),
    ("赵", 2.0),
    ("吴", 2.0),
    ("周", 1.9),
    ("徐", 1.3),
    ("孙", 1.2),
    ("马", 1.1),
    ("朱", 1.1),
    ("胡", 1.0),
    ("郭", 1.0),
    ("何", 0.9),
    ("林", 0.9),
    ("高", 0.9),
    ("罗", 0.8),
    ("郑", 0.8),
    ("梁", 0.7),
    ("谢", 0.6),
    ("宋", 0.5),
    ("唐", 0.5),
    ("许", 0.5),
    ("韩", 0.5),
    ("冯", 0.4),
    ("邓", 0.4),
    ("曹", 0.4),
)
_GIVEN_CHARS = tuple(
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建文辉玲玉萍红鹏飞宇浩欣怡子梓轩涵嘉晨思雨佳俊博一诺海丹斌亮林燕波宁春雪"
)
_TWO_CHAR_GIVEN_SHARE = 0.75
_TRADE_CHARS = tuple("华鑫瑞达恒泰盛远博嘉宏源丰诚信安德隆兴旺金通昌永顺和合益")
_INDUSTRIES = (
    "科技",
    "贸易",
    "建筑工程",
    "餐饮管理",
    "物流",
    "食品",
    "电子",
    "文化传媒",
    "机械制造",
    "农业开发",
    "服装",
    "医药",
    "建材",
    "环保科技",
    "软件",
)
_SHOPS = ("餐馆", "便利店", "五金店", "理发店", "水果店", "小吃店", "维修部")
_COOPERATIVES = ("蔬菜", "果业", "茶叶", "养殖", "粮食", "花卉")

_DAYS_PER_ADULT_YEAR = 365.25
# Order codes are three digits; two per rank leaves room for the odd/even digit.
_MAX_ORDER = 999


@dataclass(frozen=True, slots=True)
class Population:
    """The subjects of a synthetic dataset: people first, then organizations.

    Arrays are aligned: position ``i`` of every array describes subject ``i``.
    """

    subject_id: pa.StringArray
    display_name: pa.StringArray
    is_person: npt.NDArray[np.bool_]
    region: npt.NDArray[np.int8]
    """Index into :data:`REGIONS`."""
    band: npt.NDArray[np.int8]
    """Index into :data:`INCOME_BANDS` (people) or :data:`SIZE_BANDS` (organizations)."""
    adult_from: npt.NDArray[np.int32]
    """Day number (days since 1970-01-01) of the 18th birthday; organizations: minimum int."""
    risk: npt.NDArray[np.float64]
    civic: npt.NDArray[np.float64]

    @property
    def size(self) -> int:
        """The number of subjects."""
        return len(self.is_person)

    @property
    def people(self) -> int:
        """The number of people."""
        return int(self.is_person.sum())

    @property
    def organizations(self) -> int:
        """The number of organizations."""
        return self.size - self.people

    def with_accounts(self, ids: Sequence[str], names: Sequence[str]) -> Population:
        """The population with people appended who hold no resident ID (``ids`` are external
        ids): of the middle band of the first region, with no propensity to any conduct (a
        town's own accounts, which act only where a model says so)."""
        people, extra = self.people, len(ids)

        def spliced(values: npt.NDArray[Any], filler: object) -> npt.NDArray[Any]:
            added = np.full(extra, filler, dtype=values.dtype)
            return np.concatenate([values[:people], added, values[people:]])

        def spliced_text(values: pa.StringArray, added: Sequence[str]) -> pa.StringArray:
            joined: pa.StringArray = pa.concat_arrays(
                [values[:people], pa.array(list(added), pa.string()), values[people:]]
            )
            return joined

        return Population(
            subject_id=spliced_text(self.subject_id, ids),
            display_name=spliced_text(self.display_name, names),
            is_person=spliced(self.is_person, True),
            region=spliced(self.region, 0),
            band=spliced(self.band, 1),
            adult_from=spliced(self.adult_from, np.iinfo(np.int32).min),
            risk=spliced(self.risk, 0.0),
            civic=spliced(self.civic, 0.0),
        )

    def subjects_table(self) -> pa.Table:
        """The subjects file: identifiers, names and group labels, one row per subject."""
        is_person = pa.array(self.is_person)
        null = pa.scalar(None, pa.string())
        resident = pc.and_(is_person, pc.match_substring_regex(self.subject_id, _RESIDENT_ID))
        labels = pa.array([region.label for region in REGIONS])
        income = pa.array(INCOME_BANDS).take(pa.array(self.band))
        size = pa.array(SIZE_BANDS).take(pa.array(self.band))
        return pa.table(
            [
                self.subject_id,
                pc.if_else(is_person, PERSON, ORGANIZATION),
                self.display_name,
                pc.if_else(resident, self.subject_id, null),
                pc.if_else(is_person, null, self.subject_id),
                labels.take(pa.array(self.region)),
                pc.if_else(is_person, income, size),
            ],
            schema=SUBJECTS_SCHEMA,
        )


def generate_population(rng: np.random.Generator, people: int, organizations: int) -> Population:
    """Draw ``people`` adults and ``organizations`` organizations from ``rng``."""
    if people < 0 or organizations < 0:
        raise ValueError("people and organizations must not be negative")
    person_region = _draw_regions(rng, people)
    income = _draw_bands(rng, person_region, [r.income_shares for r in REGIONS])
    birth = rng.integers(_day(BIRTH_FIRST), _day(BIRTH_LAST) + 1, size=people, dtype=np.int32)
    resident_ids = _resident_ids(rng, person_region, birth)
    person_names = _person_names(rng, people)

    org_region = _draw_regions(rng, organizations)
    size = _draw_bands(rng, org_region, [r.size_shares for r in REGIONS])
    category = rng.choice(len(_ORG_CATEGORIES), size=organizations, p=_ORG_CATEGORY_SHARES)
    serials = rng.choice(100_000_000, size=organizations, replace=False)
    # A Python loop per organization (not per record): organizations number thousands, and
    # the scalar generator carries the safety checks.
    usccs = pa.array(
        [
            synthetic_uscc(REGIONS[r].code, int(s), _ORG_CATEGORIES[c])
            for r, s, c in zip(org_region, serials, category, strict=True)
        ],
        pa.string(),
    )
    org_names = _organization_names(rng, org_region, category)

    total = people + organizations
    adult_from = np.full(total, np.iinfo(np.int32).min, dtype=np.int32)
    adult_from[:people] = birth + np.int32(round(18 * _DAYS_PER_ADULT_YEAR))
    return Population(
        subject_id=pa.concat_arrays([resident_ids, usccs]),
        display_name=pa.concat_arrays([person_names, org_names]),
        is_person=np.arange(total) < people,
        region=np.concatenate([person_region, org_region]).astype(np.int8),
        band=np.concatenate([income, size]).astype(np.int8),
        adult_from=adult_from,
        risk=_lognormal_mean_one(rng, RISK_SIGMA, total),
        civic=_lognormal_mean_one(rng, CIVIC_SIGMA, total),
    )


def _day(value: date) -> int:
    return (value - date(1970, 1, 1)).days


def _draw_regions(rng: np.random.Generator, count: int) -> npt.NDArray[np.int8]:
    shares = np.array([region.share for region in REGIONS])
    return rng.choice(len(REGIONS), size=count, p=shares / shares.sum()).astype(np.int8)


def _draw_bands(
    rng: np.random.Generator,
    region: npt.NDArray[np.int8],
    shares: list[tuple[float, float, float]],
) -> npt.NDArray[np.int8]:
    # Inverse-CDF per subject with its region's band mix: one uniform draw each.
    cumulative = np.cumsum(np.array(shares), axis=1)
    cumulative /= cumulative[:, -1:]
    uniform = rng.random(len(region))
    bounds = cumulative[region]
    bands: npt.NDArray[np.int8] = (uniform[:, None] >= bounds[:, :-1]).sum(axis=1).astype(np.int8)
    return bands


def _lognormal_mean_one(
    rng: np.random.Generator, sigma: float, count: int
) -> npt.NDArray[np.float64]:
    # E[exp(N(mu, sigma^2))] = exp(mu + sigma^2 / 2): mu = -sigma^2 / 2 gives mean 1, so base
    # rates stay population averages.
    return rng.lognormal(-(sigma**2) / 2, sigma, size=count)


def _resident_ids(
    rng: np.random.Generator, region: npt.NDArray[np.int8], birth: npt.NDArray[np.int32]
) -> pa.StringArray:
    """Vectorized :func:`~xinyong.domain.identifiers.synthetic_resident_id`."""
    count = len(region)
    codes = np.array([r.code for r in REGIONS], dtype=np.int64)[region]
    # Order codes unique within (region, birth date): rank people in each group.
    order = np.lexsort((birth, codes))
    group_start = np.ones(count, dtype=bool)
    if count:
        group_start[1:] = (np.diff(codes[order]) != 0) | (np.diff(birth[order]) != 0)
    start_index = np.maximum.accumulate(np.where(group_start, np.arange(count), 0))
    rank = np.empty(count, dtype=np.int64)
    rank[order] = np.arange(count) - start_index
    # Odd or even at random, as the sex digit is in real numbers.
    order_code = 2 * rank + 1 + rng.integers(0, 2, size=count)
    if count and order_code.max() > _MAX_ORDER:
        raise ValueError("too many people share a region and birth date; add regions")

    days = birth.astype("datetime64[D]")
    year = days.astype("datetime64[Y]").astype(np.int64) + 1970
    month = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (days - days.astype("datetime64[M]")).astype(np.int64) + 1

    digits = np.empty((count, 18), dtype=np.uint8)
    digits[:, 0:2] = [int(c) for c in SYNTHETIC_PREFIX]
    _put_digits(digits, 2, 4, codes)
    _put_digits(digits, 6, 4, year)
    _put_digits(digits, 10, 2, month)
    _put_digits(digits, 12, 2, day)
    _put_digits(digits, 14, 3, order_code)
    weights = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
    remainder = (digits[:, :17].astype(np.int64) @ weights) % 11
    text = digits + np.uint8(ord("0"))
    text[:, 17] = np.frombuffer(b"10X98765432", dtype=np.uint8)[remainder]
    return _fixed_width_strings(text)


def _put_digits(
    digits: npt.NDArray[np.uint8], start: int, width: int, values: npt.NDArray[np.int64]
) -> None:
    for position in range(width):
        place = 10 ** (width - 1 - position)
        digits[:, start + position] = (values // place) % 10


def _fixed_width_strings(text: npt.NDArray[np.uint8]) -> pa.StringArray:
    count, width = text.shape
    offsets = np.arange(0, (count + 1) * width, width, dtype=np.int32)
    return pa.StringArray.from_buffers(
        count, pa.py_buffer(offsets.tobytes()), pa.py_buffer(np.ascontiguousarray(text).tobytes())
    )


def _person_names(rng: np.random.Generator, count: int) -> pa.StringArray:
    weights = np.array([share for _, share in _FAMILY_NAMES])
    family = pa.array([name for name, _ in _FAMILY_NAMES]).take(
        pa.array(rng.choice(len(_FAMILY_NAMES), size=count, p=weights / weights.sum()))
    )
    chars = pa.array(_GIVEN_CHARS)
    first = chars.take(pa.array(rng.integers(0, len(_GIVEN_CHARS), size=count)))
    second = chars.take(pa.array(rng.integers(0, len(_GIVEN_CHARS), size=count)))
    two = pa.array(rng.random(count) < _TWO_CHAR_GIVEN_SHARE)
    second = pc.if_else(two, second, "")
    return _join(family, first, second)


def _organization_names(
    rng: np.random.Generator, region: npt.NDArray[np.int8], category: npt.NDArray[np.int64]
) -> pa.StringArray:
    count = len(region)
    place = pa.array([r.place for r in REGIONS]).take(pa.array(region))
    trade_chars = pa.array(_TRADE_CHARS)
    trade = _join(
        trade_chars.take(pa.array(rng.integers(0, len(_TRADE_CHARS), size=count))),
        trade_chars.take(pa.array(rng.integers(0, len(_TRADE_CHARS), size=count))),
    )
    industry = pa.array(_INDUSTRIES).take(pa.array(rng.integers(0, len(_INDUSTRIES), size=count)))
    shop = pa.array(_SHOPS).take(pa.array(rng.integers(0, len(_SHOPS), size=count)))
    crop = pa.array(_COOPERATIVES).take(pa.array(rng.integers(0, len(_COOPERATIVES), size=count)))
    # 91 enterprise: 东港鑫达科技有限公司; 92 individual business: 东港鑫达便利店;
    # 93 farmers' cooperative: 东港鑫达茶叶专业合作社.
    enterprise = _join(place, trade, industry, pa.array(["有限公司"] * count, pa.string()))
    business = _join(place, trade, shop)
    cooperative = _join(place, trade, crop, pa.array(["专业合作社"] * count, pa.string()))
    kind = pa.array(category)
    return pc.if_else(
        pc.equal(kind, 0), enterprise, pc.if_else(pc.equal(kind, 1), business, cooperative)
    )


def _join(*parts: pa.Array) -> pa.StringArray:
    joined: pa.StringArray = pc.binary_join_element_wise(*parts, "")
    return joined
