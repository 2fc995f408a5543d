"""Credit reports as API answers: the HTML file, to be saved (:mod:`xinyong.documents`)."""

from __future__ import annotations

from fastapi import HTTPException
from fastapi.responses import HTMLResponse

from xinyong.application.context import Context
from xinyong.application.proving import ProofBusy
from xinyong.documents.credit_report import BuildReport, download_headers, report_file
from xinyong.ledger.signing import KeyFileError

__all__ = ["report_response"]


def report_response(ctx: Context, build: BuildReport, subject: str) -> HTMLResponse:
    """The report as a download; 503 while another proof is computed or the key is unusable
    (a refusal from ``build`` is answered by :mod:`xinyong.service.refusals`)."""
    try:
        name, page = report_file(ctx, build, subject)
    except ProofBusy as exc:
        raise HTTPException(503, str(exc), headers={"Retry-After": "1"}) from exc
    except KeyFileError as exc:
        raise HTTPException(503, f"the ledger's signing key cannot be used: {exc}") from exc
    return HTMLResponse(page, headers=download_headers(name))
