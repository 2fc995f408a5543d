"""Chinese subject identifiers: resident ID numbers and Unified Social Credit Codes.

Two identifiers name every subject xinyong keeps records on:

* the 18-digit **resident ID** (GB 11643-1999): a 6-digit address code, the birth date as
  ``YYYYMMDD``, a 3-digit order code and an ISO 7064 MOD 11-2 check character (``0-9`` or ``X``);
* the 18-character **Unified Social Credit Code** (USCC, GB 32100-2015) of an organization:
  registration authority, entity category, 6-digit division code, 9-character organization code
  and a MOD 31 check character, all from the alphabet ``0-9A-HJ-NPQRTUWXY``.

Every identifier that enters xinyong, from a file, the API, a check, a search or the shell, goes
through one function, :func:`canonical_subject_id`: it returns the one canonical form (Unicode
NFKC, no surrounding whitespace, the resident ID's ``x`` and the USCC's letters upper-cased) or
refuses the value with a reason (:class:`IdentifierRefused`). Nothing else is removed: a value
with a space, a hyphen, an invisible character or a non-ASCII digit inside is refused, never
guessed at, so two spellings can never become two subjects and a check can never answer "does
not apply" about a malformed number.

Validation functions return ``None`` for a valid value or a short reason a person can act on
(``"bad check digit (expected 'X', got '3')"``); they never raise on bad input.

The synthetic generators produce numbers that are valid but can never belong to anyone: their
address or division code starts with ``00``, a prefix no GB/T 2260 region uses (real province
codes run from 11 to 82, and the 2023 foreigners' permanent residence ID starts with 9). Demos,
tests and the simulation lab use only these.
"""

from __future__ import annotations

import operator
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from types import MappingProxyType

from xinyong.domain.text import text_problem

__all__ = [
    "MAX_LENGTH",
    "SYNTHETIC_PREFIX",
    "USCC_ALPHABET",
    "USCC_REGISTRATION",
    "IdentifierCheck",
    "IdentifierKind",
    "IdentifierRefused",
    "canonical_subject_id",
    "classify",
    "is_synthetic",
    "looks_like_resident_id",
    "looks_like_uscc",
    "mask_organization_id",
    "mask_resident_id",
    "organization_code_check_char",
    "resident_id_check_digit",
    "resident_id_problem",
    "synthetic_resident_id",
    "synthetic_uscc",
    "uscc_check_char",
    "uscc_problem",
    "uscc_strict_problem",
]

LENGTH = 18
"""Both identifiers are 18 characters long."""

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
"""The 31 USCC characters; a character's value is its index (I, O, Z, S and V are excluded)."""

SYNTHETIC_PREFIX = "00"
"""Start of the address / division code of every synthetic identifier; no real region has it."""

_DIGITS = "0123456789"
_RESIDENT_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RESIDENT_CHECK = "10X98765432"
_RESIDENT_SHAPE = re.compile(r"[0-9]{17}[0-9X]")
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_VALUE = {char: index for index, char in enumerate(USCC_ALPHABET)}
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_MIN_BIRTH_YEAR = 1800
# USCC positions 3-8 (0-based slice 2:8) hold the division code, 9-17 the organization code.
_USCC_DIVISION = slice(2, 8)
_USCC_ORG_BODY = slice(8, 16)


MAX_LENGTH = 128
"""The longest subject id (the ledger's column)."""

USCC_REGISTRATION: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        authority: MappingProxyType(categories)
        for authority, categories in {
            "1": {"1": "organ", "2": "public institution", "3": "mass organization", "9": "other"},
            "2": {"1": "resident foreign news agency", "9": "other"},
            "3": {
                "1": "law firm",
                "2": "notary office",
                "3": "grassroots legal service",
                "4": "judicial appraisal institution",
                "5": "arbitration commission",
                "9": "other",
            },
            "4": {"1": "foreign cultural centre", "9": "other"},
            "5": {
                "1": "social group",
                "2": "private non-enterprise unit",
                "3": "foundation",
                "9": "other",
            },
            "6": {
                "1": "foreign tourism office",
                "2": "Hong Kong, Macao or Taiwan tourism office",
                "9": "other",
            },
            "7": {"1": "religious venue", "2": "religious college", "9": "other"},
            "8": {"1": "grassroots trade union", "9": "other"},
            "9": {"1": "enterprise", "2": "individual business", "3": "farmers' cooperative"},
            "A": {"1": "military public institution", "9": "other"},
            "N": {
                "1": "group-level collective economic organization",
                "2": "village-level collective economic organization",
                "3": "township-level collective economic organization",
                "9": "other",
            },
            "Y": {"1": "other"},
        }.items()
    }
)
"""USCC position 1 (registration authority) and, per authority, position 2 (entity category).

GB 32100-2015 Appendix A assigns 1 (establishment offices), 5 (civil affairs), 9 (industry and
commerce, now market regulation) and Y (other); the authorities added since by the national
credit code administration are 2 (foreign affairs), 3 (justice), 4 (culture), 6 (tourism),
7 (religious affairs), 8 (trade unions), A (the Central Military Commission's establishment
office) and N (agriculture), with the categories listed (table of the national unified social
credit code data service; public sources disagree on some of them, see docs/identifiers.md).
"""

_OPAQUE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]*")
_ALLOWED = re.compile(r"[A-Za-z0-9._:@-]*")
"""Every character allowed somewhere in an id (ASCII letters and digits, ``. _ : @ -``)."""
"""An external id that is neither a resident ID nor a USCC: ASCII letters and digits, and
``. _ : @ -`` after the first character."""


_SEPARATORS = re.compile(r"[._:@-]")
_NUMBER_LIKE = re.compile(r"(?=[0-9X]{15,19}$)[0-9]*X?[0-9]*")
"""15 to 19 digits (one of them may be an X): a resident ID mistyped, or one of the first,
15-digit generation; never an external id, so that a check never answers "does not apply"."""
_USCC_CHARS = frozenset(USCC_ALPHABET)


class IdentifierRefused(ValueError):
    """An identifier that has no canonical form; ``reason`` says what is wrong with it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class IdentifierKind(StrEnum):
    """What an identifier names: a natural person or an organization."""

    RESIDENT_ID = "resident-id"
    USCC = "uscc"


@dataclass(frozen=True, slots=True)
class IdentifierCheck:
    """The outcome of :func:`classify`.

    ``value`` is the normalized identifier, ``kind`` what it validly is (None when it is neither)
    and ``reason`` why it is invalid (None when valid).
    """

    value: str
    kind: IdentifierKind | None
    reason: str | None

    @property
    def valid(self) -> bool:
        """True when the value is a valid resident ID or USCC."""
        return self.kind is not None


def _prepared(value: str) -> str:
    """NFKC, surrounding whitespace removed, upper case: the form every check reads.

    Full-width digits and letters become ASCII (NFKC); nothing inside the value is removed, so
    ``1101 0519...`` keeps its space and is refused for it.
    """
    return unicodedata.normalize("NFKC", value).strip().upper()


def canonical_subject_id(value: object, kind: str | None = None) -> str:
    """The canonical form of a subject id, or :class:`IdentifierRefused` with the reason.

    A value of 18 letters and digits must be a valid resident ID or USCC (upper-cased); any
    other value is an opaque external id of ASCII letters, digits and ``. _ : @ -`` (its case
    kept: it is the furnisher's), unless it is a resident ID or USCC with separators added.
    ``kind`` (``person`` or ``organization``), when given, must fit: a person is not named by
    a USCC, nor an organization by a resident ID.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # a number in JSON or Parquet: its decimal digits
    if not isinstance(value, str):
        raise IdentifierRefused(f"must be text, got {type(value).__name__}")
    normal = unicodedata.normalize("NFKC", value)
    problem = text_problem(normal)
    if problem is not None:  # before trimming: a control character is never whitespace here
        raise IdentifierRefused(problem)
    text = normal.strip()
    if not text:
        raise IdentifierRefused("empty")
    if len(text) > MAX_LENGTH:
        raise IdentifierRefused(f"longer than {MAX_LENGTH} characters")
    if not _ALLOWED.fullmatch(text):
        for index, char in enumerate(text):
            if not char.isascii() or not (char.isalnum() or char in "._:@-"):
                raise IdentifierRefused(_bad_character(char, index))
    upper = text.upper()
    if len(text) == LENGTH and upper.isalnum():
        return _number(upper, kind)
    if _NUMBER_LIKE.fullmatch(upper):  # a digit dropped or added, or a 15-digit first ID
        raise IdentifierRefused(
            f"resident ID: wrong length ({len(upper)}, expected 18)"
            + (
                "; a first-generation 15-digit ID: give the 18-digit number"
                if len(upper) == 15
                else ""
            )
        )
    if not _OPAQUE.fullmatch(text):
        raise IdentifierRefused(_bad_character(text[0], 0))
    bare = _SEPARATORS.sub("", upper)
    if len(bare) == LENGTH and (looks_like_resident_id(bare) or set(bare) <= _USCC_CHARS):
        # "110105-19491231-002X" would otherwise be an external id beside the person's own
        raise IdentifierRefused(
            f"{_plausible(bare)} written with separators: give its 18 characters only"
        )
    return text


def _number(upper: str, kind: str | None) -> str:
    """An 18-character value: a valid resident ID or USCC fitting ``kind``, else refused.

    An all-digit code can be both (a USCC whose digits happen to form a date and a matching
    check digit); the kind, when known, says which is meant.
    """
    if kind == "organization":
        organization = uscc_problem(upper)
        if organization is None:
            return upper
        if resident_id_problem(upper) is None:
            raise IdentifierRefused("a resident ID names a person, not an organization")
        raise IdentifierRefused(f"USCC: {organization}")
    if resident_id_problem(upper) is None:
        return upper
    if uscc_problem(upper) is None:
        if kind == "person":
            raise IdentifierRefused("a USCC names an organization, not a person")
        return upper
    check = classify(upper)
    raise IdentifierRefused(f"{_plausible(upper)}: {check.reason}")


def _plausible(number: str) -> str:
    return "resident ID" if looks_like_resident_id(number) or number.isdigit() else "USCC"


def resident_id_check_digit(first17: str) -> str:
    """Compute the ISO 7064 MOD 11-2 check character for the first 17 digits of a resident ID."""
    if len(first17) != LENGTH - 1 or any(char not in _DIGITS for char in first17):
        raise ValueError(f"expected 17 digits, got {first17!r}")
    total = sum(int(char) * weight for char, weight in zip(first17, _RESIDENT_WEIGHTS, strict=True))
    return _RESIDENT_CHECK[total % 11]


def uscc_check_char(first17: str) -> str:
    """Compute the GB 32100-2015 check character for the first 17 characters of a USCC."""
    if len(first17) != LENGTH - 1 or any(char not in _USCC_VALUE for char in first17):
        raise ValueError(f"expected 17 characters of {USCC_ALPHABET}, got {first17!r}")
    pairs = zip(first17, _USCC_WEIGHTS, strict=True)
    total = sum(_USCC_VALUE[char] * weight for char, weight in pairs)
    return USCC_ALPHABET[(31 - total % 31) % 31]


def organization_code_check_char(body: str) -> str:
    """Compute the GB 11714 check character of an 8-character organization code body.

    Digits count as their value and letters as 10-35 (A=10 ... Z=35, the Latin alphabet, not the
    USCC one); the weighted sum gives ``11 - sum mod 11``, where 10 is written X and 11 is 0.
    """
    if len(body) != 8 or any(not (char in _DIGITS or "A" <= char <= "Z") for char in body):
        raise ValueError(f"expected 8 digits or capital letters, got {body!r}")
    total = sum(_org_value(char) * weight for char, weight in zip(body, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def resident_id_problem(value: str) -> str | None:
    """Return why ``value`` is not a valid resident ID, or None when it is.

    Checks, in order: length, characters, birth date, check digit. The birth date must be a real
    calendar date from 1800 on; whether it lies in the future is deliberately not checked, so the
    answer never depends on the day the check runs.
    """
    number = _prepared(value)
    if len(number) != LENGTH:
        return _wrong_length(number)
    if not _RESIDENT_SHAPE.fullmatch(number):  # name the first character that is not allowed
        for index, char in enumerate(number):
            allowed = _DIGITS + "X" if index == LENGTH - 1 else _DIGITS
            if char not in allowed:
                return _bad_character(char, index)
    birth = number[6:14]
    if _parse_birth_date(birth) is None:
        return f"bad birth date {birth}"
    total = sum(map(operator.mul, map(int, number[:-1]), _RESIDENT_WEIGHTS))
    expected = _RESIDENT_CHECK[total % 11]  # resident_id_check_digit, its input known good
    if number[-1] != expected:
        return f"bad check digit (expected {expected!r}, got {number[-1]!r})"
    return None


def uscc_problem(value: str) -> str | None:
    """Return why ``value`` is not a valid USCC, or None when it is.

    Checks, in order: length, characters, registration authority and entity category
    (:data:`USCC_REGISTRATION`), a division code of digits, check character. The embedded
    organization-code check is left to :func:`uscc_strict_problem`.
    """
    number = _prepared(value)
    if len(number) != LENGTH:
        return _wrong_length(number)
    for index, char in enumerate(number):
        if char not in _USCC_VALUE:
            return _bad_character(char, index)
    categories = USCC_REGISTRATION.get(number[0])
    if categories is None:
        return f"unknown registration authority {number[0]!r} at position 1"
    if number[1] not in categories:
        return (
            f"entity category {number[1]!r} at position 2 does not exist under registration "
            f"authority {number[0]!r} (known: {', '.join(categories)})"
        )
    for index in range(_USCC_DIVISION.start, _USCC_DIVISION.stop):
        if number[index] not in _DIGITS:
            return (
                f"division code (positions 3-8) must be digits, got {number[index]!r} at "
                f"position {index + 1}"
            )
    expected = uscc_check_char(number[:-1])
    if number[-1] != expected:
        return f"bad check character (expected {expected!r}, got {number[-1]!r})"
    return None


def uscc_strict_problem(value: str) -> str | None:
    """Like :func:`uscc_problem`, and also verify the organization-code check at position 17.

    Not part of the default validation on purpose: GB 32100 only fixes the final check character,
    some authorities assign positions 9-17 without a valid GB 11714 check (codes converted from
    older registrations, for instance), and python-stdnum, which many furnishers validate with,
    skips this check too. Rejecting such codes would refuse records about real, registered
    organizations; use this stricter check only where every code is known to carry it.
    """
    problem = uscc_problem(value)
    if problem is not None:
        return problem
    number = _prepared(value)
    # Every USCC character is a digit or a capital letter, so the body always has a check.
    expected = organization_code_check_char(number[_USCC_ORG_BODY])
    if number[16] != expected:
        return f"bad organization code check (expected {expected!r}, got {number[16]!r})"
    return None


def looks_like_resident_id(value: str) -> bool:
    """True when ``value`` has the shape of a resident ID: 17 digits, then a digit or X."""
    number = _prepared(value)
    return (
        len(number) == LENGTH
        and all(char in _DIGITS for char in number[:-1])
        and number[-1] in _DIGITS + "X"
    )


def looks_like_uscc(value: str) -> bool:
    """True when ``value`` is 18 USCC characters and does not have the shape of a resident ID."""
    number = _prepared(value)
    return (
        len(number) == LENGTH
        and all(char in _USCC_VALUE for char in number)
        and not looks_like_resident_id(number)
    )


def classify(value: str) -> IdentifierCheck:
    """Decide whether ``value`` is a resident ID, a USCC or neither.

    A valid resident ID wins; otherwise a valid USCC (so an all-digit code that fails the
    resident-ID check but passes the USCC one is a USCC). An invalid value gets the reason for
    the type it most plausibly meant: a resident ID when it has that shape, a USCC when every
    character is in the USCC alphabet, else a resident ID (whose reasons name length and
    characters, the most useful hints for a mistyped number). A character that belongs to
    neither (a space, a hyphen, a non-ASCII digit) is named first: nothing is removed.
    """
    number = _prepared(value)
    for index, char in enumerate(number):
        if not (char.isascii() and char.isalnum()):
            return IdentifierCheck(number, None, _bad_character(char, index))
    person_problem = resident_id_problem(number)
    if person_problem is None:
        return IdentifierCheck(number, IdentifierKind.RESIDENT_ID, None)
    org_problem = uscc_problem(number)
    if org_problem is None:
        return IdentifierCheck(number, IdentifierKind.USCC, None)
    if looks_like_resident_id(number):
        return IdentifierCheck(number, None, person_problem)
    if all(char in _USCC_VALUE for char in number):
        return IdentifierCheck(number, None, org_problem)
    return IdentifierCheck(number, None, person_problem)


def synthetic_resident_id(region: int, birth: date, order: int) -> str:
    """Generate a valid resident ID that cannot belong to a real person.

    The address code is ``00`` followed by ``region`` (0-9999) on four digits; no real address
    code starts with 00. ``order`` (0-999) is the order code, odd for men and even for women in
    real numbers.
    """
    if not 0 <= region <= 9999:
        raise ValueError(f"region must be in 0..9999, got {region}")
    if not 0 <= order <= 999:
        raise ValueError(f"order must be in 0..999, got {order}")
    if birth.year < _MIN_BIRTH_YEAR:
        raise ValueError(f"birth year must be {_MIN_BIRTH_YEAR} or later, got {birth.year}")
    first17 = (
        f"{SYNTHETIC_PREFIX}{region:04d}{birth.year:04d}{birth.month:02d}{birth.day:02d}{order:03d}"
    )
    number = first17 + resident_id_check_digit(first17)
    # A real check, not `assert`: it must hold under `python -O` too.
    if not number.startswith(SYNTHETIC_PREFIX):
        raise AssertionError(f"synthetic resident ID {number} lacks the {SYNTHETIC_PREFIX} prefix")
    return number


def synthetic_uscc(region: int, serial: int, category: str = "91") -> str:
    """Generate a valid USCC that cannot belong to a real organization.

    Layout: ``category`` (2 characters, ``91`` = enterprise) + division code ``00`` + ``region``
    (0-9999) on four digits + organization code (``serial``, 0-99999999, on eight digits plus its
    GB 11714 check character, so :func:`uscc_strict_problem` accepts it too) + check character.

    Raises ValueError in the rare case where the result would also read as a valid resident ID
    (an all-digit code whose digits happen to form a date and a matching check digit), because
    :func:`classify` would then call the organization a person. It cannot happen when the last
    two digits of ``region`` are below 18: the would-be birth year is then before 1800.
    """
    if len(category) != 2 or any(char not in _USCC_VALUE for char in category):
        raise ValueError(f"category must be 2 characters of {USCC_ALPHABET}, got {category!r}")
    if not 0 <= region <= 9999:
        raise ValueError(f"region must be in 0..9999, got {region}")
    if not 0 <= serial <= 99_999_999:
        raise ValueError(f"serial must be in 0..99999999, got {serial}")
    body = f"{serial:08d}"
    first17 = f"{category}{SYNTHETIC_PREFIX}{region:04d}{body}{organization_code_check_char(body)}"
    number = first17 + uscc_check_char(first17)
    if number[_USCC_DIVISION][:2] != SYNTHETIC_PREFIX:
        raise AssertionError(f"synthetic USCC {number} lacks the {SYNTHETIC_PREFIX} division")
    if resident_id_problem(number) is None:
        raise ValueError(f"synthetic USCC {number} would also be a valid resident ID")
    return number


def is_synthetic(value: str) -> bool:
    """True when ``value`` is a valid identifier in the reserved synthetic range (``00`` region)."""
    check = classify(value)
    if check.kind is IdentifierKind.RESIDENT_ID:
        return check.value.startswith(SYNTHETIC_PREFIX)
    if check.kind is IdentifierKind.USCC:
        return check.value[_USCC_DIVISION].startswith(SYNTHETIC_PREFIX)
    return False


def mask_resident_id(value: str) -> str:
    """Mask a resident ID for public display: keep the region prefix and the check character.

    ``11010519491231002X`` becomes ``110105***********X``: the birth date and order code, which
    single out a person, are hidden. A value without the shape of a resident ID is masked
    entirely, so a malformed number can never leak through a disclosure page.
    """
    number = _prepared(value)
    if not looks_like_resident_id(number):
        return "*" * len(number)
    return number[:6] + "*" * (LENGTH - 7) + number[-1]


def mask_organization_id(value: str) -> str:
    """Mask an organisation's id where it is named beside someone else (the organisation a
    person represents, in a check on the person): a USCC keeps its registration authority,
    category and region (the first 8 characters) and its check character, as a resident ID
    keeps its region and check; any other id keeps at most its first two characters."""
    number = _prepared(value)
    if looks_like_uscc(number):
        return number[:8] + "*" * (LENGTH - 9) + number[-1]
    keep = min(2, len(number) // 3)
    return number[:keep] + "*" * max(3, len(number) - keep)


def _org_value(char: str) -> int:
    return int(char) if char in _DIGITS else ord(char) - ord("A") + 10


def _parse_birth_date(text: str) -> date | None:
    year, month, day = int(text[:4]), int(text[4:6]), int(text[6:8])
    if year < _MIN_BIRTH_YEAR:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _wrong_length(number: str) -> str:
    return f"wrong length ({len(number)}, expected {LENGTH})"


def _bad_character(char: str, index: int) -> str:
    # Positions are 1-based, as printed on cards and in the standards.
    if char.isascii() and char.isprintable():
        return f"bad character {char!r} at position {index + 1}"
    name = unicodedata.name(char, "unnamed")
    return f"bad character U+{ord(char):04X} ({name}) at position {index + 1}"
