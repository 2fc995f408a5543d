"""The public transparency page: the report, with charts of list sizes over time, monthly
inflow and outflow, and objections by outcome (their titles and labels in the page's
language)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from xinyong.application.context import Context
from xinyong.due_process.transparency import transparency_report
from xinyong.i18n import N_, gettext_for
from xinyong.ledger.signed_head import signed_checkpoint
from xinyong.web.charts import Chart, Series
from xinyong.web.dependencies import context
from xinyong.web.schemes import override_shown
from xinyong.web.twins import PageData, PageLanguage, twin

__all__ = ["router"]

router = APIRouter()
Ctx = Annotated[Context, Depends(context)]

OUTCOMES = {
    "open": N_("open"),
    "upheld": N_("upheld"),
    "rejected": N_("rejected"),
    "lapsed": N_("lapsed"),
    "overdue": N_("overdue"),
}
"""The outcomes the objections chart counts, in words."""


def _carried(sizes: Mapping[str, int], months: list[str]) -> list[float | None]:
    """A list's size at the end of each month: the last change carried forward."""
    values: list[float | None] = []
    current: float | None = None
    for month in months:
        current = float(sizes[month]) if month in sizes else current
        values.append(current)
    return values


def report_charts(report: Mapping[str, Any], language: str) -> dict[str, Any]:
    """The report's charts (their numbers are the report's own), labelled in ``language``."""
    _ = gettext_for(language)
    lists = report["lists"]
    months = sorted({m for item in lists for m in item["sizes"]})
    sizes = Chart(
        "sizes",
        _("List sizes at the end of each month"),
        months,
        [Series(item["list"], _carried(item["sizes"], months)) for item in lists],
        _("entries"),
        x_label=_("Month"),
    )
    flows = []
    for number, item in enumerate(lists):
        flow_months = sorted(set(item["inflow"]) | set(item["outflow"]))
        flows.append(
            Chart(
                f"flow-{number}",
                _("%(list)s: entries and exits per month") % {"list": item["list"]},
                flow_months,
                [
                    Series(_("entered"), [float(item["inflow"].get(m, 0)) for m in flow_months]),
                    Series(_("left"), [float(item["outflow"].get(m, 0)) for m in flow_months]),
                ],
                _("subjects"),
                x_label=_("Month"),
            )
        )
    objections = Chart(
        "objections",
        _("Objections by outcome"),
        [_(words) for words in OUTCOMES.values()],
        [Series(_("objections"), [float(report["objections"][o]) for o in OUTCOMES])],
        _("objections"),
        x_label=_("Outcome"),
    )
    return {"sizes": sizes, "flows": flows, "objections": objections}


@twin(router, "/transparency", "transparency.html")
def transparency_page(ctx: Ctx, language: PageLanguage) -> PageData:
    """List sizes, flows, objections and their outcomes, checks per relying party, and the
    ledger's signed checkpoint with its verifier key."""
    with ctx.engine.connect() as conn:
        report = transparency_report(conn, ctx.today())
        key = ctx.ledger_key()
        checkpoint = signed_checkpoint(conn, key)
    report = {**report, "overrides": [override_shown(o, language) for o in report["overrides"]]}
    return {
        "report": report,
        "charts": report_charts(report, language),
        "checkpoint": checkpoint,
        "public_key": key.verifier_key,
    }
