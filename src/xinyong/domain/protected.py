"""Protected characteristics: what no scheme may score, no catalog declare and no source submit.

One list for the scheme linter, the catalog and ingest. The categories are GDPR Art. 9's special
categories of personal data (racial or ethnic origin, political opinions, religious or
philosophical beliefs, trade union membership, genetic and biometric data, health, sex life or
sexual orientation), PIPL Art. 28's sensitive personal information (biometrics, religious belief,
specific identity, medical health, and the like), and the grounds of the equality laws that
credit decisions must respect (sex and pregnancy: China's Law on the Protection of Women's Rights
and Interests, ECOA and Regulation B in the United States).

Names are recognised in English, in pinyin and in Chinese, however they are written:
``minzu_code``, ``hukou_ethnic``, ``Religious-Belief``, ``zhengzhi_mianmao`` and ``宗教信仰``
all match. A name is split into lower-case words at every character that is not a letter or a
digit and at every change between Latin and Chinese script; a term of Latin words matches a run of
consecutive words, each word equal to the term's word or, for a term marked as a stem, starting
with it (``pregnan`` matches ``pregnant`` and ``pregnancy``); a Chinese term matches anywhere in
a Chinese word, since Chinese does not separate words. Ambiguous words are only terms in
combination (``party`` alone is also a relying party, ``union`` a credit union, ``sex`` the sex
of a date format): ``party_member``, ``trade_union``, ``sex_life``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

__all__ = ["CATEGORIES", "ProtectedMatch", "protected_term", "protected_terms"]


@dataclass(frozen=True, slots=True)
class _Category:
    name: str
    terms: tuple[str, ...]
    """Latin terms are words joined by ``_``; a trailing ``*`` marks a stem. Other terms are
    Chinese."""


CATEGORIES: tuple[_Category, ...] = (
    _Category(
        "ethnicity",
        (
            "ethnic*",
            "race",
            "racial*",
            "minzu",
            "zhongzu",
            "民族",
            "种族",
            "族别",
        ),
    ),
    _Category(
        "religion or belief",
        (
            "religio*",
            "faith*",
            "belief*",
            "church*",
            "mosque",
            "temple_attendance",
            "zongjiao",
            "xinyang",
            "宗教",
            "信仰",
            "信教",
        ),
    ),
    _Category(
        "political opinion",
        (
            "politic*",
            "party_member*",
            "party_affiliation",
            "zhengzhi*",
            "dangyuan",
            "政治",
            "党员",
            "党派",
        ),
    ),
    _Category(
        "trade union membership",
        ("trade_union*", "union_member*", "labor_union*", "labour_union*", "gonghui", "工会"),
    ),
    _Category(
        "health",
        (
            "health*",
            "medical*",
            "diagnos*",
            "disabilit*",
            "disabled",
            "illness*",
            "disease*",
            "hiv",
            "mental_health",
            "jiankang",
            "jibing",
            "canji",
            "健康",
            "疾病",
            "残疾",
            "病史",
            "诊断",
        ),
    ),
    _Category(
        "pregnancy",
        ("pregnan*", "maternity", "huaiyun", "yunfu", "怀孕", "孕期", "孕妇", "生育"),
    ),
    _Category(
        "sex life or sexual orientation",
        (
            "sexual*",
            "sex_life",
            "orientation",
            "lgbt*",
            "xingquxiang",
            "性取向",
            "性生活",
        ),
    ),
    _Category("sex", ("gender*", "sex", "xingbie", "性别")),
    _Category("genetic data", ("genetic*", "genom*", "dna", "jiyin", "基因")),
    _Category(
        "biometric data",
        (
            "biometric*",
            "fingerprint*",
            "face_template*",
            "facial*",
            "iris_scan*",
            "voiceprint*",
            "zhiwen",
            "renlian",
            "指纹",
            "人脸",
            "生物识别",
            "虹膜",
            "声纹",
        ),
    ),
)
"""The protected categories and the terms that name them."""

_WORDS = re.compile(r"[a-z0-9]+|[\u3400-\u9fff]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


@dataclass(frozen=True, slots=True)
class ProtectedMatch:
    """Where a name touches a protected category."""

    name: str
    term: str
    category: str

    def reason(self) -> str:
        """One clause for a finding or a refusal."""
        return f"{self.name!r} is a protected characteristic ({self.category}: {self.term!r})"


def _latin_matches(words: list[str], term: str) -> bool:
    stem = term.endswith("*")
    parts = term.rstrip("*").split("_")
    for start in range(len(words) - len(parts) + 1):
        window = words[start : start + len(parts)]
        head, last = window[:-1], window[-1]
        if head != parts[:-1]:
            continue
        if last == parts[-1] or (stem and last.startswith(parts[-1])):
            return True
    return False


@functools.lru_cache(maxsize=4096)
def protected_term(name: str, extra: frozenset[str] = frozenset()) -> ProtectedMatch | None:
    """The protected category ``name`` touches (an attribute name, a code, a value), if any.

    ``extra`` adds exact names (lower case) that a catalog declares protected besides these.
    Cached: ingest asks about the same few attribute names for every record.
    """
    lowered = _CAMEL.sub("_", name).lower()
    words = _WORDS.findall(lowered)
    latin = [w for w in words if w.isascii()]
    chinese = [w for w in words if not w.isascii()]
    for category in CATEGORIES:
        for term in category.terms:
            if term.rstrip("*").replace("_", "").isascii():
                if _latin_matches(latin, term):
                    return ProtectedMatch(name, term.rstrip("*"), category.name)
            elif any(term in word for word in chinese):
                return ProtectedMatch(name, term, category.name)
    if name.lower() in extra:
        return ProtectedMatch(name, name.lower(), "declared protected by the catalog")
    return None


def protected_terms(
    names: list[str] | tuple[str, ...], extra: frozenset[str] = frozenset()
) -> list[ProtectedMatch]:
    """:func:`protected_term` of each name that touches a protected category, in order."""
    return [m for m in (protected_term(n, extra) for n in names) if m is not None]
