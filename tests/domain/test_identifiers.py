"""Tests for xinyong.domain.identifiers.

Expected values come from the worked vectors in DOMAIN.md section 1 and from python-stdnum
(``stdnum.cn.ric``, ``stdnum.cn.uscc``), an independent implementation of both standards.
"""

from __future__ import annotations

import string
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import ric, uscc
from stdnum.exceptions import InvalidComponent

from tests.support.identifier_strategies import spelled
from xinyong.domain.identifiers import (
    USCC_ALPHABET,
    USCC_REGISTRATION,
    IdentifierCheck,
    IdentifierKind,
    IdentifierRefused,
    canonical_subject_id,
    classify,
    is_synthetic,
    looks_like_resident_id,
    looks_like_uscc,
    mask_resident_id,
    organization_code_check_char,
    resident_id_check_digit,
    resident_id_problem,
    synthetic_resident_id,
    synthetic_uscc,
    uscc_check_char,
    uscc_problem,
    uscc_strict_problem,
)

RESIDENT_VECTORS = ["11010519491231002X", "34052419800101001X"]
USCC_VECTORS = ["91350100M000100Y43", "91430111MA4L41YT1U", "91110000600037341L"]
# Real address codes (from stdnum's database) so some generated numbers pass stdnum fully.
# (340524 is left out: stdnum 2.2 raises KeyError for it, a bug in its database lookup.)
REAL_ADDRESSES = ["110105", "360426", "440305", "510104"]


def stdnum_ric_check(first17: str) -> str:
    # stdnum's calc_check_digit expects the full number and ignores its last character.
    return str(ric.calc_check_digit(first17 + "0"))


def stdnum_uscc_check(first17: str) -> str:
    return str(uscc.calc_check_digit(first17 + "0"))


# ---------------------------------------------------------------- worked vectors


@pytest.mark.parametrize("number", RESIDENT_VECTORS)
def test_resident_vectors_are_valid(number: str) -> None:
    assert resident_id_problem(number) is None
    assert resident_id_check_digit(number[:17]) == number[17]
    assert classify(number) == IdentifierCheck(number, IdentifierKind.RESIDENT_ID, None)
    assert looks_like_resident_id(number)
    assert not looks_like_uscc(number)
    assert stdnum_ric_check(number[:17]) == number[17]


@pytest.mark.parametrize("number", USCC_VECTORS)
def test_uscc_vectors_are_valid(number: str) -> None:
    assert uscc_problem(number) is None
    assert uscc_strict_problem(number) is None
    assert uscc_check_char(number[:17]) == number[17]
    assert classify(number) == IdentifierCheck(number, IdentifierKind.USCC, None)
    assert looks_like_uscc(number)
    assert not looks_like_resident_id(number)


@pytest.mark.parametrize(
    ("body", "expected"),
    # Positions 9-16 and 17 of the three DOMAIN.md USCC vectors.
    [("M000100Y", "4"), ("MA4L41YT", "1"), ("60003734", "1")],
)
def test_organization_code_check_char(body: str, expected: str) -> None:
    assert organization_code_check_char(body) == expected


def test_organization_code_check_maps_ten_and_eleven() -> None:
    # Hand-worked with weights 3,7,9,10,5,8,4,2:
    # "00000002": 2*2 = 4, 11 - 4 = 7; "00000100": 8*1 = 8, 11 - 8 = 3;
    # "40000000": 3*4 = 12, 12 mod 11 = 1, 11 - 1 = 10 -> "X"; "00000000": 0, 11 - 0 = 11 -> "0".
    assert organization_code_check_char("00000002") == "7"
    assert organization_code_check_char("00000100") == "3"
    assert organization_code_check_char("40000000") == "X"
    assert organization_code_check_char("00000000") == "0"


def test_validators_read_the_canonical_form() -> None:
    assert resident_id_problem(" 11010519491231002x ") is None
    assert resident_id_problem("１１０１０５１９４９１２３１００２ｘ") is None  # full width
    assert uscc_problem("\u300091350100m000100y43") is None  # ideographic space, lower case
    assert classify("11010519491231002x").value == "11010519491231002X"


def test_nothing_inside_a_value_is_removed() -> None:
    assert resident_id_problem("110105 19491231 002X") == "wrong length (20, expected 18)"
    assert classify("110105 19491231002X").reason == "bad character ' ' at position 7"
    assert classify("91-350100M000100Y43").reason == "bad character '-' at position 3"


# ---------------------------------------------------------------- canonical subject ids


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("11010519491231002x", "11010519491231002X"),
        (" 11010519491231002X\t\n", "11010519491231002X"),
        ("１１０１０５１９４９１２３１００２Ｘ", "11010519491231002X"),
        ("\u300011010519491231002X\u3000", "11010519491231002X"),
        ("91350100m000100y43", "91350100M000100Y43"),
        ("ext:a", "ext:a"),  # an external id keeps its case
        ("Ext.A-1@b_2", "Ext.A-1@b_2"),
        (1234567, "1234567"),  # a JSON number: its digits
    ],
)
def test_canonical_subject_ids(given: object, canonical: str) -> None:
    assert canonical_subject_id(given) == canonical


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("", "empty"),
        ("  ", "empty"),
        ("11010519491231002X\u200b", "bad character U+200B (ZERO WIDTH SPACE) at position 19"),
        ("١١٠١٠٥١٩٤٩١٢٣١٠٠٢X", "bad character U+0661 (ARABIC-INDIC DIGIT ONE) at position 1"),
        ("1101 0519 4912 3100 2X", "bad character ' ' at position 5"),
        (
            "110105-19491231-002X",
            "resident ID written with separators: give its 18 characters only",
        ),
        ("9135.0100.M000100Y43", "USCC written with separators: give its 18 characters only"),
        ("11010519491231002\x00", "control character U+0000 at position 18"),
        ("\x1f11010519491231002X\x1f", "control character U+001F at position 1"),
        (
            "110105194912310",
            "resident ID: wrong length (15, expected 18); a first-generation"
            " 15-digit ID: give the 18-digit number",
        ),
        ("11010519491231002", "resident ID: wrong length (17, expected 18)"),
        ("11010519491231002X0", "resident ID: wrong length (19, expected 18)"),
        ("1101051949123100x", "resident ID: wrong length (17, expected 18)"),
        ("110105194912310021", "resident ID: bad check digit (expected 'X', got '1')"),
        ("91350100M000100Y44", "USCC: bad check character (expected '3', got '4')"),
        ("01110000600037341L", "USCC: unknown registration authority '0' at position 1"),
        (".hidden", "bad character '.' at position 1"),
        ("a" * 129, "longer than 128 characters"),
        (None, "must be text, got NoneType"),
        (True, "must be text, got bool"),
    ],
)
def test_refused_subject_ids(given: object, reason: str) -> None:
    with pytest.raises(IdentifierRefused) as refused:
        canonical_subject_id(given)
    assert refused.value.reason == reason


def test_an_all_digit_code_that_reads_both_ways_follows_the_kind() -> None:
    code = "913205834410125844"  # a valid USCC whose digits also make a valid resident ID
    assert uscc_strict_problem(code) is None
    assert resident_id_problem(code) is None
    assert canonical_subject_id(code, "organization") == code
    assert canonical_subject_id(code, "person") == code
    assert canonical_subject_id(code) == code


def test_a_subject_id_must_fit_its_kind() -> None:
    assert canonical_subject_id("11010519491231002x", "person") == "11010519491231002X"
    with pytest.raises(IdentifierRefused, match="names a person"):
        canonical_subject_id("11010519491231002X", "organization")
    with pytest.raises(IdentifierRefused, match="names an organization"):
        canonical_subject_id("91350100M000100Y43", "person")
    assert canonical_subject_id("ext:a", "organization") == "ext:a"


def test_the_uscc_registration_table() -> None:
    # GB 32100-2015 Appendix A, and the authorities added since (docs/identifiers.md).
    assert set(USCC_REGISTRATION) == set("123456789ANY")
    assert set(USCC_REGISTRATION["9"]) == {"1", "2", "3"}
    assert set(USCC_REGISTRATION["5"]) == {"1", "2", "3", "9"}
    assert set(USCC_REGISTRATION["1"]) == {"1", "2", "3", "9"}
    first17 = "94350100M000100Y4"  # industry and commerce has no category 4
    number = first17 + stdnum_uscc_check(first17)
    assert uscc_problem(number) == (
        "entity category '4' at position 2 does not exist under registration authority '9' "
        "(known: 1, 2, 3)"
    )
    first17 = "9135A100M000100Y4"  # the division code is six digits
    number = first17 + stdnum_uscc_check(first17)
    assert uscc_problem(number) == (
        "division code (positions 3-8) must be digits, got 'A' at position 5"
    )


# ---------------------------------------------------------------- reasons


def test_resident_reasons() -> None:
    assert resident_id_problem("11010519491231002") == "wrong length (17, expected 18)"
    assert resident_id_problem("") == "wrong length (0, expected 18)"
    assert resident_id_problem("110105A9491231002X") == "bad character 'A' at position 7"
    assert resident_id_problem("11010519491231002Y") == "bad character 'Y' at position 18"
    assert resident_id_problem("1101051949123100X2") == "bad character 'X' at position 17"
    assert resident_id_problem("110105199913320021") == "bad birth date 19991332"
    assert resident_id_problem("110105190002290021") == "bad birth date 19000229"
    assert resident_id_problem("110105179912310021") == "bad birth date 17991231"
    expected = stdnum_ric_check("11010519491231002")
    assert expected == "X"
    assert resident_id_problem("110105194912310023") == "bad check digit (expected 'X', got '3')"


def test_resident_accepts_leap_day_and_future_dates() -> None:
    # Only a real calendar date is required; a future date is not checked (documented).
    for first17 in ("11010520000229001", "11010521000101001"):
        assert resident_id_problem(first17 + stdnum_ric_check(first17)) is None


def test_resident_order_of_checks() -> None:
    # Length is reported before characters, characters before the date, the date before the
    # check digit.
    assert resident_id_problem("A1") == "wrong length (2, expected 18)"
    assert resident_id_problem("A10105199913320021") == "bad character 'A' at position 1"
    assert resident_id_problem("110105199913320029") == "bad birth date 19991332"


def test_uscc_reasons() -> None:
    assert uscc_problem("91350100M000100Y4") == "wrong length (17, expected 18)"
    assert uscc_problem("91350100M000100I43") == "bad character 'I' at position 16"
    assert uscc_problem("913501OOM000100Y43") == "bad character 'O' at position 7"
    expected = stdnum_uscc_check("91350100M000100Y4")
    assert expected == "3"
    assert uscc_problem("91350100M000100Y4A") == "bad check character (expected '3', got 'A')"


def test_uscc_strict_reason() -> None:
    # Same code with a wrong organization check (position 17) and a recomputed final check.
    first17 = "91350100M000100Y5"
    number = first17 + stdnum_uscc_check(first17)
    assert uscc_problem(number) is None
    assert uscc_strict_problem(number) == "bad organization code check (expected '4', got '5')"


def test_check_digit_functions_refuse_bad_input() -> None:
    with pytest.raises(ValueError, match="17 digits"):
        resident_id_check_digit("1234")
    with pytest.raises(ValueError, match="17 characters"):
        uscc_check_char("91350100M000100I4")
    with pytest.raises(ValueError, match="8 digits"):
        organization_code_check_char("abc")


# ---------------------------------------------------------------- classify


def test_classify_valid_values() -> None:
    assert classify("11010519491231002X").kind is IdentifierKind.RESIDENT_ID
    assert classify("91110000600037341L").kind is IdentifierKind.USCC
    assert classify("91110000600037341L").valid
    assert not classify("x").valid


def test_classify_all_digit_uscc() -> None:
    # Find, with stdnum, an all-digit code that is a valid USCC but has an impossible birth
    # date (month 13), so it cannot be a resident ID.
    for order in range(1000):
        first17 = f"11010519991332{order:03d}"
        check = stdnum_uscc_check(first17)
        if check in string.digits:
            number = first17 + check
            break
    else:
        pytest.fail("no all-digit USCC found")
    assert looks_like_resident_id(number)
    assert classify(number) == IdentifierCheck(number, IdentifierKind.USCC, None)


def test_classify_reasons_follow_the_plausible_type() -> None:
    # Resident-ID shaped: the resident reason (guard: it is not a valid USCC either).
    assert stdnum_uscc_check("11010519491231002") != "1"
    bad_resident = classify("110105194912310021")
    assert bad_resident.kind is None
    assert bad_resident.reason == "bad check digit (expected 'X', got '1')"
    assert classify("110105199913320021").reason == "bad birth date 19991332"
    # USCC alphabet: the USCC reason.
    assert classify("91350100M000100Y44").reason == "bad check character (expected '3', got '4')"
    assert classify("91350100M000100Y4").reason == "wrong length (17, expected 18)"
    # Neither: the resident reason.
    assert classify("1101051949123100IX").reason == "bad character 'I' at position 17"
    assert classify("abc!").reason == "bad character '!' at position 4"
    assert classify("abcd").reason == "wrong length (4, expected 18)"


def test_looks_like() -> None:
    assert looks_like_resident_id("11010519491231002x")
    assert looks_like_resident_id("110105999999999999")
    assert not looks_like_resident_id("11010519491231002A")
    assert looks_like_uscc("11010519491231002A")
    assert not looks_like_uscc("11010519491231002")
    assert not looks_like_uscc("91350100M000100I43")


# ---------------------------------------------------------------- masking


def test_mask_resident_id() -> None:
    assert mask_resident_id("11010519491231002X") == "110105***********X"
    assert mask_resident_id(" 34052419800101001x") == "340524***********X"
    # Anything else is masked entirely.
    assert mask_resident_id("1101051949") == "**********"


# ---------------------------------------------------------------- synthetic numbers


def test_synthetic_examples() -> None:
    first17 = "00000119800101001"
    assert synthetic_resident_id(1, date(1980, 1, 1), 1) == first17 + stdnum_ric_check(first17)
    body = "00000001"
    # "00000001": weight 2 * 1 = 2 -> 11 - 2 = 9.
    first17 = "91000001" + body + "9"
    assert synthetic_uscc(1, 1) == first17 + stdnum_uscc_check(first17)


def test_synthetic_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="region"):
        synthetic_resident_id(10_000, date(1980, 1, 1), 1)
    with pytest.raises(ValueError, match="order"):
        synthetic_resident_id(1, date(1980, 1, 1), 1000)
    with pytest.raises(ValueError, match="birth year"):
        synthetic_resident_id(1, date(1700, 1, 1), 1)
    with pytest.raises(ValueError, match="category"):
        synthetic_uscc(1, 1, category="9I")
    with pytest.raises(ValueError, match="serial"):
        synthetic_uscc(1, 100_000_000)


def test_is_synthetic() -> None:
    assert is_synthetic(synthetic_resident_id(7, date(1990, 5, 17), 22))
    assert is_synthetic(synthetic_uscc(7, 123))
    for real in RESIDENT_VECTORS + USCC_VECTORS:
        assert not is_synthetic(real)
    assert not is_synthetic("000001198001010010")  # right prefix, wrong check digit


def test_synthetic_uscc_refuses_a_code_that_reads_as_a_resident_id() -> None:
    # Search (with stdnum as the reference) for a serial whose code is also a resident ID.
    region = 19  # would-be birth year 19xx
    for serial in range(99_010_100, 99_011_100):
        body = f"{serial:08d}"
        first17 = f"91{region:06d}{body}{organization_code_check_char(body)}"
        number = first17 + stdnum_uscc_check(first17)
        if number[-1] == stdnum_ric_check(number[:17]):
            with pytest.raises(ValueError, match="resident ID"):
                synthetic_uscc(region, serial)
            return
    pytest.fail("no ambiguous serial in the searched range")


# ---------------------------------------------------------------- properties against stdnum

digits = st.text(alphabet=string.digits, min_size=1, max_size=1)
birth_dates = st.dates(min_value=date(1800, 1, 1), max_value=date(2100, 12, 31))
addresses = st.one_of(
    st.sampled_from(REAL_ADDRESSES), st.text(alphabet=string.digits, min_size=6, max_size=6)
)


@st.composite
def resident_ids(draw: st.DrawFn) -> str:
    """A resident ID with a check digit computed by stdnum."""
    birth = draw(birth_dates)
    first17 = f"{draw(addresses)}{birth:%Y%m%d}{draw(st.integers(0, 999)):03d}"
    return first17 + stdnum_ric_check(first17)


@st.composite
def corrupted(draw: st.DrawFn, valid: st.SearchStrategy[str], alphabet: str) -> str:
    """A valid number with one character replaced, two swapped, or one dropped."""
    number = draw(valid)
    how = draw(st.sampled_from(["replace", "swap", "drop"]))
    index = draw(st.integers(0, len(number) - 2))
    if how == "replace":
        return number[:index] + draw(st.sampled_from(alphabet)) + number[index + 1 :]
    if how == "swap":
        return number[:index] + number[index + 1] + number[index] + number[index + 2 :]
    return number[:index] + number[index + 1 :]


def stdnum_resident_valid_ignoring_place(number: str) -> bool:
    """stdnum's checks without its birth-place database, plus our year >= 1800 rule.

    ``ric.validate`` runs these same steps and then looks the address code up; the lookup is
    what we skip, so the steps are run one by one with stdnum's own functions.
    """
    if len(number) != 18 or not number[:17].isdigit() or not number.isascii():
        return False
    if number[17] != ric.calc_check_digit(number):
        return False
    try:
        birth = ric.get_birth_date(number)
    except InvalidComponent:
        return False
    return birth.year >= 1800


@given(resident_ids())
def test_valid_resident_ids_agree_with_stdnum(number: str) -> None:
    assert resident_id_problem(number) is None
    assert resident_id_check_digit(number[:17]) == number[17]
    assert stdnum_resident_valid_ignoring_place(number)
    if number[:6] in REAL_ADDRESSES and ric.get_birth_date(number).year >= 1990:
        # Counties assigned before 1990 may postdate the birth year; recent births are safe.
        assert ric.is_valid(number)


@given(corrupted(resident_ids(), string.digits + "X"))
def test_corrupted_resident_ids_agree_with_stdnum(number: str) -> None:
    assert (resident_id_problem(number) is None) == stdnum_resident_valid_ignoring_place(number)


REGISTRATIONS = sorted(a + c for a, categories in USCC_REGISTRATION.items() for c in categories)


@st.composite
def usccs(draw: st.DrawFn) -> str:
    """A USCC with a check character computed by stdnum: a registration authority and category
    from the table (letters included: Y, A, N), a division code of digits."""
    head = draw(st.sampled_from(REGISTRATIONS))
    head += draw(st.text(alphabet=string.digits, min_size=6, max_size=6))
    first17 = head + draw(st.text(alphabet=USCC_ALPHABET, min_size=9, max_size=9))
    return first17 + stdnum_uscc_check(first17)


def stdnum_uscc_valid_relaxed(number: str) -> bool:
    """stdnum's length, alphabet and check character, without its rule that the first eight
    characters are digits, plus the registration table and a division code of digits."""
    return (
        len(number) == 18
        and all(char in USCC_ALPHABET for char in number)
        and number[:2] in REGISTRATIONS
        and number[2:8].isdigit()
        and stdnum_uscc_check(number[:17]) == number[17]
    )


@given(usccs())
def test_valid_usccs_agree_with_stdnum(number: str) -> None:
    assert uscc_problem(number) is None
    assert uscc_check_char(number[:17]) == number[17]
    # stdnum is stricter: it requires digits in the first eight positions.
    assert uscc.is_valid(number) == number[:2].isdigit()


@given(corrupted(usccs(), USCC_ALPHABET + "IOSVZ"))
def test_corrupted_usccs_agree_with_stdnum(number: str) -> None:
    assert (uscc_problem(number) is None) == stdnum_uscc_valid_relaxed(number)
    if uscc.is_valid(number):  # whatever stdnum accepts and the table knows, we accept
        assert (uscc_problem(number) is None) == (number[:2] in REGISTRATIONS)


@given(st.one_of(resident_ids(), usccs()).flatmap(lambda n: st.tuples(st.just(n), spelled(n))))
def test_every_spelling_of_a_valid_id_has_one_canonical_form(pair: tuple[str, str]) -> None:
    number, variant = pair
    if resident_id_problem(number) is not None and uscc_problem(number) is not None:
        return  # a resident ID with a birth year before 1800
    assert canonical_subject_id(variant) == canonical_subject_id(number) == number


@given(
    st.one_of(resident_ids(), usccs()),
    st.integers(1, 17),
    st.sampled_from([" ", "-", "\u200b", "\u00ad", "\ufeff", "\x00", "١", "〇", "é"]),
)
def test_anything_inside_an_id_is_refused(number: str, at: int, inserted: str) -> None:
    with pytest.raises(IdentifierRefused, match=r"bad character|separators|control character"):
        canonical_subject_id(number[:at] + inserted + number[at:])


@given(st.integers(0, 9999), birth_dates, st.integers(0, 999))
def test_synthetic_resident_ids_are_valid_and_unreal(region: int, birth: date, order: int) -> None:
    number = synthetic_resident_id(region, birth, order)
    assert number.startswith("00")
    assert number[:17] == f"00{region:04d}{birth:%Y%m%d}{order:03d}"
    assert number[17] == stdnum_ric_check(number[:17])
    assert classify(number).kind is IdentifierKind.RESIDENT_ID
    assert is_synthetic(number)
    # stdnum knows every real address code; it knows none of ours.
    with pytest.raises(InvalidComponent):
        ric.get_birth_place(number)
    with pytest.raises(InvalidComponent):
        ric.validate(number)


@given(
    st.integers(0, 9999),
    st.integers(0, 99_999_999),
    st.sampled_from(["91", "92", "93", "51", "52", "53", "11", "Y1"]),
)
def test_synthetic_usccs_are_valid_and_unreal(region: int, serial: int, category: str) -> None:
    body = f"{serial:08d}"
    first17 = f"{category}00{region:04d}{body}{organization_code_check_char(body)}"
    expected = first17 + stdnum_uscc_check(first17)
    if stdnum_resident_valid_ignoring_place(expected):
        # Documented refusal: the code would also read as a resident ID. It needs a would-be
        # birth year from 1800 on, so the last two region digits are 18 or more.
        assert region % 100 >= 18
        with pytest.raises(ValueError, match="resident ID"):
            synthetic_uscc(region, serial, category)
        return
    number = synthetic_uscc(region, serial, category)
    assert number == expected
    assert number[17] == stdnum_uscc_check(number[:17])
    assert uscc_strict_problem(number) is None
    check = classify(number)
    assert check.kind is IdentifierKind.USCC
    assert is_synthetic(number)
    assert uscc.is_valid(number) == category.isdigit()
    # The division code is no real region: stdnum's address database does not know it.
    with pytest.raises(InvalidComponent):
        ric.get_birth_place(number[2:8] + "19900101001X")
