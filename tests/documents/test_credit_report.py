"""The credit report's page: a pure function of its data and statement, read back exactly."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xinyong.application.credit_report import RENDERER, payload_text
from xinyong.documents.credit_report import ReportFileError, read_report, render_report

STATEMENT = "xinyong-report/v1\n{}\n\n\u2014 example.org/log AAAA\n"


def _payload(name: str) -> dict[str, object]:
    return {
        "format": "xinyong-report/v1",
        "renderer": RENDERER,
        "kind": "organization",
        "subject_id": "91000000MA0000000X",
        "organization": {"id": "91000000MA0000000X", "name": name, "kind": "organization"},
        "as_of": "2026-12-03",
        "records": [],
        "lists": [],
        "grace_days": 30,
        "checkpoint": "example.org/log\n3\nAAAA\n\n\u2014 example.org/log AAAA\n",
        "entries": [],
    }


@given(st.text(max_size=40))
def test_any_data_is_read_back_exactly_from_its_page(name: str) -> None:
    """Whatever the names hold (markup, quotes, script endings), the page shows them escaped and
    gives back the same payload text and statement."""
    text = payload_text(_payload(name))
    page = render_report(text, STATEMENT)
    assert read_report(page) == (text, STATEMENT)
    assert render_report(*read_report(page)) == page


def test_a_page_of_another_version_or_without_its_data_is_refused() -> None:
    other = {**_payload("x"), "renderer": RENDERER + 1}
    with pytest.raises(ReportFileError, match="rendered as version"):
        render_report(payload_text(other), STATEMENT)
    with pytest.raises(ReportFileError, match="exactly one report"):
        read_report("<html><body>no report here</body></html>")
    page = render_report(payload_text(_payload("x")), STATEMENT)
    with pytest.raises(ReportFileError, match="exactly one report"):
        read_report(page + page)
    with pytest.raises(ReportFileError, match="cannot be embedded"):
        render_report(payload_text(_payload("x")), STATEMENT.replace("AAAA", "<b>"))
