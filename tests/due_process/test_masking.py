"""The public masking policy: what a list shows of a subject, and what a search may find."""

from __future__ import annotations

import pytest

from xinyong.due_process.masking import (
    MaskingPolicy,
    OrganizationMask,
    PersonIdMask,
    PersonNameMask,
)

RESIDENT = "11010519491231002X"  # a valid example from GB 11643 (DOMAIN.md section 1)
USCC = "91350100M000100Y43"


def test_the_default_policy_keeps_region_check_and_family_name() -> None:
    policy = MaskingPolicy()
    assert policy.subject_id(RESIDENT, "person") == "110105***********X"
    assert policy.name("王小明", "person") == "王**"
    assert policy.name("Ada Lovelace", "person") == "Lovelace *"
    assert policy.subject_id(USCC, "organization") == USCC
    assert policy.name("Example Trading Co.", "organization") == "Example Trading Co."
    assert policy.subject_id("ext:12345678", "person") == "ex**********"


@pytest.mark.parametrize(
    ("policy", "shown_id", "shown_name"),
    [
        (MaskingPolicy(person_id=PersonIdMask.HIDE_LAST_FOUR), "11010519491231****", "王**"),
        (MaskingPolicy(person_id=PersonIdMask.HIDDEN), "***", "王**"),
        (MaskingPolicy(person_name=PersonNameMask.FULL), "110105***********X", "王小明"),
        (MaskingPolicy(person_name=PersonNameMask.HIDDEN), "110105***********X", "***"),
    ],
)
def test_other_policies(policy: MaskingPolicy, shown_id: str, shown_name: str) -> None:
    assert policy.subject_id(RESIDENT, "person") == shown_id
    assert policy.name("王小明", "person") == shown_name


def test_organizations_may_be_shown_by_name_only() -> None:
    policy = MaskingPolicy(organization=OrganizationMask.NAME_ONLY)
    assert policy.subject_id(USCC, "organization") == "***"
    assert policy.name("Example Trading Co.", "organization") == "Example Trading Co."


def test_search_finds_full_values_and_visible_parts_only() -> None:
    policy = MaskingPolicy()
    found = [
        q
        for q in (RESIDENT.lower(), f" {RESIDENT} ", RESIDENT, "王小明", "王", " 王小明 ", "")
        if policy.matches(q, RESIDENT, "王小明", "person")
    ]
    assert found == [RESIDENT.lower(), f" {RESIDENT} ", RESIDENT, "王小明", "王", " 王小明 ", ""]
    # Parts, and a number with anything inside it, find nobody.
    hidden = ("110105", "1949", RESIDENT[:-1], "小明", "王小", "明", "110105 1949 1231 002x")
    assert not [q for q in hidden if policy.matches(q, RESIDENT, "王小明", "person")]
    assert policy.matches("trading", USCC, "Example Trading Co.", "organization")


def test_a_policy_from_settings_names_its_mistakes() -> None:
    assert MaskingPolicy.from_table({"person_id": "hidden"}) == MaskingPolicy(
        person_id=PersonIdMask.HIDDEN
    )
    assert MaskingPolicy.from_table(MaskingPolicy().table()) == MaskingPolicy()
    with pytest.raises(ValueError, match="person_name must be one of family-name, full, hidden"):
        MaskingPolicy.from_table({"person_name": "initials"})
    with pytest.raises(ValueError, match="unknown part 'address'"):
        MaskingPolicy.from_table({"address": "hidden"})
    with pytest.raises(ValueError, match="must be a table"):
        MaskingPolicy.from_table("hidden")
