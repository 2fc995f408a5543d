"""A rule's term: days and weeks are days; months and years are calendar months and years."""

from __future__ import annotations

from datetime import date

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import given
from hypothesis import strategies as st

from xinyong.domain.durations import DurationError, add_months, parse_duration, parse_term


@pytest.mark.parametrize(
    ("start", "term", "ends"),
    [
        (date(2023, 7, 1), "2y", date(2025, 7, 1)),  # the court list: not one day early
        (date(2024, 1, 31), "1m", date(2024, 2, 29)),
        (date(2024, 2, 29), "1y", date(2025, 2, 28)),
        (date(2024, 2, 29), "4y", date(2028, 2, 29)),
        (date(2023, 12, 31), "6m", date(2024, 6, 30)),
        (date(2024, 3, 31), "13m", date(2025, 4, 30)),
        (date(2024, 6, 30), "30d", date(2024, 7, 30)),
        (date(2024, 6, 30), "2w", date(2024, 7, 14)),
        (date(2024, 6, 30), "0m", date(2024, 6, 30)),
    ],
)
def test_a_term_ends_on_the_calendar_day(start: date, term: str, ends: date) -> None:
    assert parse_term(term).ends_on(start) == ends


def test_linear_decay_divides_by_the_records_own_term() -> None:
    assert parse_term("1y").length_from(date(2023, 7, 1)) == 366  # across 29 February 2024
    assert parse_term("1y").length_from(date(2024, 7, 1)) == 365
    assert parse_term("1m").length_from(date(2024, 2, 1)) == 29


@given(
    start=st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31)),
    months=st.integers(-1200, 1200),
)
def test_add_months_agrees_with_dateutil(start: date, months: int) -> None:
    """An independent implementation: dateutil's relativedelta also clamps to the month's end."""
    assert add_months(start, months) == start + relativedelta(months=months)


def test_elsewhere_a_month_stays_thirty_days() -> None:
    assert parse_duration("1m") == 30
    assert parse_duration("3y") == 1095
    assert parse_term("3y").nominal_days == 1095
    with pytest.raises(DurationError, match="expected a whole number and a unit"):
        parse_term("2 years")


def test_a_term_longer_than_the_calendar_never_ends() -> None:
    """As in SQL, where such a record simply counts: no overflow in the reference evaluator."""
    assert parse_term("3000000d").ends_on(date(2024, 1, 1)) == date.max
    assert parse_term("8000y").ends_on(date(2024, 1, 1)) == date.max
