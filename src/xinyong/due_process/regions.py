"""The province a listed subject's identifier names, as the public list's region facet shows it.

A resident ID's first two digits and a USCC's third and fourth characters are the province-level
part of its GB/T 2260 division code (Credit China narrows its lists by province the same way).
The facet counts only what the masking policy shows anyway: a person's region when the policy
shows the ID's region prefix, an organisation's when it shows the USCC. ``00`` is the prefix of
every synthetic identifier (no real region has it).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from sqlalchemy import ColumnElement, and_, case, func, literal

from xinyong.domain.identifiers import SYNTHETIC_PREFIX
from xinyong.due_process.masking import MaskingPolicy, OrganizationMask, PersonIdMask
from xinyong.i18n import N_

__all__ = ["PROVINCES", "region_name", "region_of"]

PROVINCES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "11": N_("Beijing"),
        "12": N_("Tianjin"),
        "13": N_("Hebei"),
        "14": N_("Shanxi"),
        "15": N_("Inner Mongolia"),
        "21": N_("Liaoning"),
        "22": N_("Jilin"),
        "23": N_("Heilongjiang"),
        "31": N_("Shanghai"),
        "32": N_("Jiangsu"),
        "33": N_("Zhejiang"),
        "34": N_("Anhui"),
        "35": N_("Fujian"),
        "36": N_("Jiangxi"),
        "37": N_("Shandong"),
        "41": N_("Henan"),
        "42": N_("Hubei"),
        "43": N_("Hunan"),
        "44": N_("Guangdong"),
        "45": N_("Guangxi"),
        "46": N_("Hainan"),
        "50": N_("Chongqing"),
        "51": N_("Sichuan"),
        "52": N_("Guizhou"),
        "53": N_("Yunnan"),
        "54": N_("Tibet"),
        "61": N_("Shaanxi"),
        "62": N_("Gansu"),
        "63": N_("Qinghai"),
        "64": N_("Ningxia"),
        "65": N_("Xinjiang"),
        "71": N_("Taiwan"),
        "81": N_("Hong Kong"),
        "82": N_("Macao"),
        SYNTHETIC_PREFIX: N_("Synthetic (demo data)"),
    }
)
"""Province-level division codes (GB/T 2260) by their English names (translated where shown)."""


def region_name(code: str) -> str:
    """The English name of a region code (the code itself when it names none)."""
    return PROVINCES.get(code, code)


def region_of(
    subject_id: ColumnElement[str], kind: ColumnElement[str], policy: MaskingPolicy
) -> ColumnElement[str | None]:
    """The region code of a listing as an SQL expression: NULL when the identifier is not an
    18-character resident ID or USCC, or when the policy hides the part that names it."""
    shown_people = policy.person_id is not PersonIdMask.HIDDEN
    shown_organizations = policy.organization is OrganizationMask.FULL
    full_length = func.length(subject_id) == 18
    return case(
        (
            and_(literal(shown_people), kind == "person", full_length),
            func.substr(subject_id, 1, 2),
        ),
        (
            and_(literal(shown_organizations), kind == "organization", full_length),
            func.substr(subject_id, 3, 2),
        ),
        else_=None,
    )
