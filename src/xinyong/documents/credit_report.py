"""The credit report as one self-contained HTML file (:mod:`xinyong.application.credit_report`).

The file holds the report's payload and signed statement in two ``<script>`` elements that
browsers do not run (``application/json`` and ``text/plain``), and shows the payload as a page
with inline styles and nothing fetched from anywhere, so it opens offline and prints. The page is
a pure function of the payload and the statement: :func:`read_report` takes them out of a file
and the verifier renders them again, so a page whose visible text was edited fails even when its
data is intact.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

import orjson
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy import Connection

from xinyong.application.context import Context
from xinyong.application.credit_report import RENDERER, SealedReport
from xinyong.ledger.database import one_snapshot

__all__ = [
    "BuildReport",
    "ReportFileError",
    "download_headers",
    "read_report",
    "render_report",
    "report_file",
    "report_filename",
]

BuildReport = Callable[[Connection, Context, str], SealedReport]
"""A report's builder: :func:`~xinyong.application.credit_report.subject_report` or
:func:`~xinyong.application.credit_report.organization_report`."""

_PAYLOAD: Final = re.compile(
    r'<script type="application/json" id="xinyong-report">([^<]*)</script>'
)
_STATEMENT: Final = re.compile(
    r'<script type="text/plain" id="xinyong-report-statement">\n([^<]*)</script>'
)

_ENV = Environment(
    loader=PackageLoader("xinyong.documents", "templates"),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    extensions=["jinja2.ext.do"],
)
_ENV.tests["commitment"] = lambda code: str(code).startswith("commitment.")


class ReportFileError(ValueError):
    """The file is not a credit report this version can read (what is wrong)."""


def render_report(payload: str, statement: str) -> str:
    """The report's page: ``payload`` (its canonical JSON text) shown, and both embedded."""
    if any(c in statement for c in "<&"):
        raise ReportFileError("a statement holding '<' or '&' cannot be embedded in a page")
    data: dict[str, Any] = orjson.loads(payload)
    found = data.get("renderer")
    if found != RENDERER:
        raise ReportFileError(
            f"the report was rendered as version {found} and this xinyong renders version "
            f"{RENDERER}: check it with the xinyong release that made it"
        )
    template = _ENV.get_template(f"{data['kind']}_report.html")
    return template.render(report=data, payload=payload, statement=statement)


def read_report(html: str) -> tuple[str, str]:
    """The payload text and the statement in a report file."""
    payloads, statements = _PAYLOAD.findall(html), _STATEMENT.findall(html)
    if len(payloads) != 1 or len(statements) != 1:
        raise ReportFileError("the file does not hold exactly one report and one statement")
    return payloads[0], statements[0]


def report_filename(report: SealedReport) -> str:
    """The name a downloaded report is saved as."""
    if report.kind != "organization":  # a person's id stays out of file names
        return f"credit-report-{report.as_of.isoformat()}.html"
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", report.subject)[-24:]
    return f"credit-report-{safe}-{report.as_of.isoformat()}.html"


def report_file(ctx: Context, build: BuildReport, subject: str) -> tuple[str, str]:
    """A report's file name and page, for every transport (refusals from ``build`` pass
    through; :class:`~xinyong.application.proving.ProofBusy` while another proof runs).

    The report is read in one snapshot (REPEATABLE READ on PostgreSQL; a SQLite read
    transaction is one), so that what it shows, its entries and its checkpoint are of one
    moment even while the ledger grows."""
    with ctx.engine.connect() as conn, one_snapshot(conn).begin():
        report = build(conn, ctx, subject)
    return report_filename(report), render_report(report.payload, report.statement)


def download_headers(name: str) -> dict[str, str]:
    """The headers a report is served with: saved as ``name``, never cached."""
    return {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
