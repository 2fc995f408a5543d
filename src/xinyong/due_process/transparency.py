"""The public transparency report: list sizes (now and at the end of each month with a change),
inflow and outflow, objections (and the sources' answers to them), requests for human review,
appeals, checks, and the schemes activated despite guardrail findings."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Table, func, select

from xinyong.ledger.schema import appeals, inquiries, listings, objections, reviews, schemes
from xinyong.scoring.store import recorded_overrides

__all__ = ["transparency_report"]


def _month(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _sizes(inflow: Counter[str], outflow: Counter[str]) -> dict[str, int]:
    """A list's size at the end of every month with an entry or exit."""
    size, sizes = 0, {}
    for month in sorted(set(inflow) | set(outflow)):
        size += inflow[month] - outflow[month]
        sizes[month] = size
    return sizes


def transparency_report(conn: Connection, today: date) -> dict[str, Any]:
    """The report as JSON-ready data."""
    sizes: dict[str, int] = defaultdict(int)
    flows: dict[str, dict[str, Counter[str]]] = defaultdict(
        lambda: {"inflow": Counter(), "outflow": Counter()}
    )
    for row in conn.execute(select(listings)):
        key = f"{row.scheme_id}/{row.list_id}"
        flows[key]["inflow"][_month(row.listed_on)] += 1
        if row.delisted_on is None:
            sizes[key] += 1
        else:
            flows[key]["outflow"][_month(row.delisted_on)] += 1
    status = Counter(str(r.status) for r in conn.execute(select(objections.c.status)))
    overdue = conn.execute(
        select(func.count())
        .select_from(objections)
        .where(objections.c.status == "open", objections.c.deadline < today)
    ).scalar()
    days: list[float] = []
    for row in conn.execute(
        select(objections.c.filed_at, objections.c.decided_at).where(
            objections.c.decided_at.is_not(None)
        )
    ):
        filed = datetime.fromisoformat(str(row.filed_at).rstrip("Z"))
        decided = datetime.fromisoformat(str(row.decided_at).rstrip("Z"))
        days.append((decided - filed).total_seconds() / 86400)
    checks: dict[str, int] = dict(
        conn.execute(
            select(inquiries.c.relying_party, func.count()).group_by(inquiries.c.relying_party)
        ).all()
    )
    return {
        "as_of": today.isoformat(),
        "lists": [
            {
                "list": key,
                "size": sizes.get(key, 0),
                "inflow": dict(sorted(flows[key]["inflow"].items())),
                "outflow": dict(sorted(flows[key]["outflow"].items())),
                "sizes": _sizes(flows[key]["inflow"], flows[key]["outflow"]),
            }
            for key in sorted(flows)
        ],
        "objections": {
            "filed": sum(status.values()),
            "open": status.get("open", 0),
            "upheld": status.get("upheld", 0),
            "rejected": status.get("rejected", 0),
            "lapsed": status.get("lapsed", 0),
            "overdue": int(overdue or 0),
            "median_days_to_decision": round(statistics.median(days), 2) if days else None,
        },
        "furnisher_answers": _answers(conn),
        "reviews": _queue(conn, reviews, ("open", "confirmed", "changed"), today),
        "appeals": _queue(conn, appeals, ("open", "granted", "dismissed"), today),
        "checks_per_relying_party": {str(k): int(v) for k, v in sorted(checks.items())},
        "overrides": _overrides(conn),
    }


def _overrides(conn: Connection) -> list[dict[str, Any]]:
    """Every scheme version activated despite a guardrail finding, with the reason and the
    official responsible, and whether that version is in force now."""
    active = {
        (str(r.scheme_id), str(r.version))
        for r in conn.execute(
            select(schemes.c.scheme_id, schemes.c.version).where(schemes.c.active.is_(True))
        )
    }
    return [
        {
            "scheme": r.scheme_id,
            "version": r.version,
            "active": (r.scheme_id, r.version) in active,
            **r.public(),
        }
        for r in recorded_overrides(conn)
    ]


def _queue(
    conn: Connection, table: Table, statuses: tuple[str, ...], today: date
) -> dict[str, int]:
    """How many requests of a queue are in each status, filed in all, and open past their
    deadline."""
    found = Counter(str(r.status) for r in conn.execute(select(table.c.status)))
    overdue = conn.execute(
        select(func.count())
        .select_from(table)
        .where(table.c.status == "open", table.c.deadline < today)
    ).scalar()
    return {
        "filed": sum(found.values()),
        **{status: found.get(status, 0) for status in statuses},
        "overdue": int(overdue or 0),
    }


def _answers(conn: Connection) -> dict[str, int]:
    """How the sources answered the disputes of their records (``none``: not answered)."""
    found = Counter(
        str(r.furnisher_verdict or "none")
        for r in conn.execute(select(objections.c.furnisher_verdict))
    )
    return {verdict: found.get(verdict, 0) for verdict in ("accurate", "inaccurate", "none")}
