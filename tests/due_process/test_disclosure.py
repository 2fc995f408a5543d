"""What a public list entry says of its subject: masked, and labelled demo data only when the
identifier is synthetic (the region code 00 no real person or organization has)."""

from __future__ import annotations

from datetime import date

from xinyong.domain.identifiers import synthetic_resident_id, synthetic_uscc
from xinyong.due_process.disclosure import Listing
from xinyong.due_process.masking import MaskingPolicy

DAY = date(2026, 1, 2)


def _public(subject_id: str, kind: str = "person") -> tuple[str, bool]:
    entry = Listing("e1", subject_id, kind, None, DAY, DAY).public(MaskingPolicy())
    return entry.subject, entry.demo


def test_only_synthetic_identities_are_labelled_demo_data() -> None:
    assert _public("11010519491231002X") == ("110105***********X", False)
    assert _public(synthetic_resident_id(9, date(1987, 7, 7), 9))[1] is True
    assert _public(synthetic_uscc(2, 5), "organization")[1] is True
    assert _public("91350100M000100Y43", "organization")[1] is False
    assert _public("town-01")[1] is False  # not an identifier at all: not vouched for either
