"""Who a scheme may score: ``[eligibility]``, decided the same way by the reference evaluator
(:func:`ineligibility`, with the reason a subject is told) and the compiled engines
(:func:`eligible_subjects`), with the same arithmetic.

- ``min_age``: a person is eligible from the day of the birthday on which they reach it. The
  birth date is read from the resident ID (GB 11643-1999, digits 7 to 14); a person without one
  is not eligible, since nothing shows they are old enough. Organizations have no age.
- ``consent = "required"``: the subject's latest ``consent.given`` or ``consent.withdrawn``
  record on or before the as-of date must be a ``consent.given`` (a withdrawal on the same day
  wins). Records that no longer count (revoked, past their display period) do not count here
  either.

An ineligible subject gets no standing at all under the scheme: no score, grade, list or
measure, and no check answers yes for it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING

from xinyong.domain.consent import CONSENT_GIVEN, CONSENT_WITHDRAWN
from xinyong.domain.records import InputRecord
from xinyong.i18n import N_, Message
from xinyong.schemes.model import Scheme

if TYPE_CHECKING:
    import ibis.expr.types as ir

__all__ = [
    "CONSENT_GIVEN",
    "CONSENT_WITHDRAWN",
    "eligible_subjects",
    "ineligibility",
    "of_age",
]

_RESIDENT_ID = "^[0-9]{17}[0-9X]$"
_RESIDENT = re.compile(_RESIDENT_ID)
_NEVER = 99_999_999
"""The birth "date" of a person without a resident ID: never of age."""


def of_age(birth: int, as_of: date, min_age: int) -> bool:
    """Whether someone born on ``birth`` (``YYYYMMDD`` as a number) is ``min_age`` full years
    old on ``as_of``: their birthday of that year has come (born on 29 February: on 1 March in
    a common year). Written as the compiled engines write it."""
    return birth + min_age * 10_000 <= as_of.year * 10_000 + as_of.month * 100 + as_of.day


def _consent_state(records: Iterable[InputRecord], as_of: date) -> bool:
    given: date | None = None
    withdrawn: date | None = None
    for record in records:
        if record.occurred_at > as_of:
            continue
        if record.code == CONSENT_GIVEN and (given is None or record.occurred_at > given):
            given = record.occurred_at
        elif record.code == CONSENT_WITHDRAWN and (
            withdrawn is None or record.occurred_at > withdrawn
        ):
            withdrawn = record.occurred_at
    return given is not None and (withdrawn is None or given > withdrawn)


def ineligibility(
    scheme: Scheme, subject_id: str, kind: str, records: Iterable[InputRecord], as_of: date
) -> str | None:
    """Why ``subject_id`` may not be scored by ``scheme`` as of ``as_of`` (a :class:`Message`,
    English as the API gives it, translated on a page), or None when it may. ``records`` are the
    subject's records in force (others' are ignored)."""
    rules = scheme.eligibility
    if rules is None:
        return None
    if rules.min_age is not None and kind == "person":
        if _RESIDENT.match(subject_id) is None:
            return Message(
                N_(
                    "the scheme scores persons aged %(age)s or over, and no resident ID "
                    "shows this person's age"
                ),
                age=rules.min_age,
            )
        if not of_age(int(subject_id[6:14]), as_of, rules.min_age):
            return Message(N_("the scheme scores persons aged %(age)s or over"), age=rules.min_age)
    if rules.consent == "required":
        own = (
            r
            for r in records
            if r.subject_id == subject_id and r.subject_kind in scheme.subject_kinds
        )
        if not _consent_state(own, as_of):
            return Message(
                N_(
                    "the scheme scores only subjects who consent to it, and no consent is in "
                    "force (a %(given)s record, not followed by %(withdrawn)s)"
                ),
                given=CONSENT_GIVEN,
                withdrawn=CONSENT_WITHDRAWN,
            )
    return None


def eligibility_codes(scheme: Scheme) -> tuple[str, ...]:
    """The codes of the records that ``[eligibility]`` reads (consent), none without it."""
    if scheme.eligibility is None or scheme.eligibility.consent != "required":
        return ()
    return (CONSENT_GIVEN, CONSENT_WITHDRAWN)


def eligible_subjects(
    scheme: Scheme,
    chosen: ir.Table,
    considered: ir.Table,
    t: ir.DateValue,
    *,
    named_by_records: bool = False,
) -> ir.Table:
    """The distinct rows of ``chosen`` (``subject_id``, ``kind``) that ``scheme`` may score as
    of ``t``, given the records ``considered`` (of the scheme's kinds, on or before ``t``). The
    date stays an expression (the lab binds it per step).

    Only a subject with a consent in force can be scored where consent is required, so consent
    is applied first and the rows shrink before they are made distinct and their identifiers
    parsed for an age. When ``chosen`` is every subject the records name (``named_by_records``,
    file mode) and a subject's kind cannot change the answer (no age rule, or persons only),
    the consenting subjects are the answer's candidates themselves: each is named by its own
    consent record, so the records need not be read again for the subjects they name."""
    import ibis  # here: the reference evaluator imports this module without Ibis

    rules = scheme.eligibility
    if rules is None:
        return chosen.distinct()
    if rules.consent == "required":
        consent = considered.filter(considered.code.isin(list(eligibility_codes(scheme))))
        latest = consent.group_by("subject_id").aggregate(
            given=consent.occurred_at.max(where=consent.code == CONSENT_GIVEN),
            withdrawn=consent.occurred_at.max(where=consent.code == CONSENT_WITHDRAWN),
        )
        consenting = latest.filter(
            latest.given.notnull() & (latest.withdrawn.isnull() | (latest.given > latest.withdrawn))
        ).select("subject_id")
        kinds = tuple(scheme.subject_kinds)
        if named_by_records and (rules.min_age is None or kinds == ("person",)):
            chosen = consenting.mutate(kind=ibis.literal(kinds[0], type="string"))
        else:
            chosen = chosen.semi_join(consenting, "subject_id").distinct()
    else:
        chosen = chosen.distinct()
    if rules.min_age is not None:
        resident = chosen.subject_id.re_search(_RESIDENT_ID)
        birth = ibis.ifelse(resident, chosen.subject_id[6:14].cast("int64"), _NEVER)
        today = t.year().cast("int64") * 10_000 + t.month() * 100 + t.day()
        chosen = chosen.filter(
            (chosen.kind != "person") | (birth + rules.min_age * 10_000 <= today)
        )
    return chosen
