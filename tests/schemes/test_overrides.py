"""Overrides: what one must say, and which findings it names."""

from __future__ import annotations

import pytest

from tests.support.findings import FINDINGS
from xinyong.schemes.lint import lint
from xinyong.schemes.load import parse_scheme
from xinyong.schemes.overrides import (
    OverrideError,
    guardrail_findings,
    make_override,
    match_overrides,
    parse_override,
)

OFFICIAL = "Li Ming, deputy director"


@pytest.mark.parametrize(
    ("finding", "reason", "official", "problem"),
    [
        ("no-expiry", "", OFFICIAL, "the reason is empty"),
        ("no-expiry", "ok", "  ", "the official is empty"),
        ("no-expiry", "a\x00b", OFFICIAL, r"control character U\+0000"),
        ("no-expiry", "x" * 2001, OFFICIAL, "over 2000 characters"),
        ("unknown-code", "ok", OFFICIAL, "not a guardrail finding"),
        ("no-expiry", "n/a", OFFICIAL, "says nothing"),
        ("no-expiry", "because", "\u200b", "the official is empty"),
        ("no-expiry", "because", "-", "says nothing"),
        ("no-expiry", "for 11010519491231002X only", OFFICIAL, "contains a resident ID"),
        ("no-expiry", "ok", "Firm 91350100M000100Y43", "contains a resident ID or a USCC"),
    ],
)
def test_an_override_needs_a_reason_and_an_official(
    finding: str, reason: str, official: str, problem: str
) -> None:
    with pytest.raises(OverrideError, match=problem):
        make_override(finding, reason, official)


def test_an_override_names_a_check_or_one_finding() -> None:
    text = FINDINGS["bare-score-sanction"].replace(
        'basis = "SPC Provisions on restricting high consumption (2015), Art. 3"', 'basis = "无"'
    )
    findings = guardrail_findings(lint(parse_scheme(text)))
    assert sorted(f.ref for f in findings) == [
        "bare-score-sanction@measures.gate-no-flights.grades",
        "sanction-without-basis@measures.gate-no-flights.basis",
    ]
    one = parse_override("bare-score-sanction@measures.gate-no-flights.grades= why ", OFFICIAL)
    assert one.reason == "why"
    covered, uncovered = match_overrides(findings, [one])
    assert [i.check for i, _ in covered] == ["bare-score-sanction"]
    assert [i.check for i in uncovered] == ["sanction-without-basis"]
    every = make_override("sanction-without-basis", "drafting", OFFICIAL)
    covered, uncovered = match_overrides(findings, [one, every])
    assert uncovered == []
    with pytest.raises(OverrideError, match="names no finding"):
        match_overrides(findings, [make_override("bare-score-sanction@rules.x.when", "a", "b")])
    with pytest.raises(OverrideError, match="FINDING=REASON"):
        parse_override("no-expiry", OFFICIAL)
