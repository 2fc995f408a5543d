"""The public transparency page: the report, with charts of list sizes over time, monthly
inflow and outflow, and objections by outcome."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from xinyong.application.context import Context
from xinyong.due_process.transparency import transparency_report
from xinyong.ledger.signed_head import signed_checkpoint
from xinyong.web.charts import Chart, Series
from xinyong.web.dependencies import context
from xinyong.web.twins import PageData, twin

__all__ = ["router"]

router = APIRouter()
Ctx = Annotated[Context, Depends(context)]

OUTCOMES = ("open", "upheld", "rejected", "lapsed", "overdue")


def _carried(sizes: Mapping[str, int], months: list[str]) -> list[float | None]:
    """A list's size at the end of each month: the last change carried forward."""
    values: list[float | None] = []
    current: float | None = None
    for month in months:
        current = float(sizes[month]) if month in sizes else current
        values.append(current)
    return values


def report_charts(report: Mapping[str, Any]) -> dict[str, Any]:
    """The report's charts (their numbers are the report's own)."""
    lists = report["lists"]
    months = sorted({m for item in lists for m in item["sizes"]})
    sizes = Chart(
        "sizes",
        "List sizes at the end of each month",
        months,
        [Series(item["list"], _carried(item["sizes"], months)) for item in lists],
        "entries",
        x_label="Month",
    )
    flows = []
    for number, item in enumerate(lists):
        flow_months = sorted(set(item["inflow"]) | set(item["outflow"]))
        flows.append(
            Chart(
                f"flow-{number}",
                f"{item['list']}: entries and exits per month",
                flow_months,
                [
                    Series("entered", [float(item["inflow"].get(m, 0)) for m in flow_months]),
                    Series("left", [float(item["outflow"].get(m, 0)) for m in flow_months]),
                ],
                "subjects",
                x_label="Month",
            )
        )
    objections = Chart(
        "objections",
        "Objections by outcome",
        list(OUTCOMES),
        [Series("objections", [float(report["objections"][o]) for o in OUTCOMES])],
        "objections",
        x_label="Outcome",
    )
    return {"sizes": sizes, "flows": flows, "objections": objections}


@twin(router, "/transparency", "transparency.html")
def transparency_page(ctx: Ctx) -> PageData:
    """List sizes, flows, objections and their outcomes, checks per relying party, and the
    ledger's signed checkpoint with its verifier key."""
    with ctx.engine.connect() as conn:
        report = transparency_report(conn, ctx.today())
        key = ctx.ledger_key()
        checkpoint = signed_checkpoint(conn, key)
    return {
        "report": report,
        "charts": report_charts(report),
        "checkpoint": checkpoint,
        "public_key": key.verifier_key,
    }
