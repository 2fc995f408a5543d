"""How the portal answers a refused form: the page the form is on, shown again with the reason,
and a status by the kind of refusal (:mod:`xinyong.domain.refusals`).

A form that breaks a rule (no reason, not one's own record, too early for repair) is a 422, as
in the API. A form about an objection or repair request that was decided or is not there is a
409 in the portal: the form came from a queue the operator saw, which no longer says how things
are, and the queue shown again does (the API, which names the request in its path, answers an
unknown one 404).

The reason is shown in the page's language: the refusal's template translated, then filled.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from xinyong.domain.refusals import AlreadyDecided, NotAllowed, NotFound, Refused, Taken
from xinyong.i18n import Message
from xinyong.web.sessions import WebSession
from xinyong.web.templates import render
from xinyong.web.twins import PageData

__all__ = ["STATUS", "refused_form", "status_of"]

STATUS: dict[type[Refused], int] = {NotFound: 409, AlreadyDecided: 409, Taken: 409, NotAllowed: 422}
"""The portal's status for each kind of refusal of a form."""


def status_of(refusal: Refused) -> int:
    """The status of the page that answers a form refused with ``refusal``."""
    return next((s for kind, s in STATUS.items() if isinstance(refusal, kind)), 422)


def refused_form(
    request: Request,
    refusal: Refused,
    template: str,
    page: PageData,
    session: WebSession,
    shown: str,
) -> HTMLResponse:
    """The page at ``shown`` (``page`` rendered with ``template``) again, with the reason."""
    return render(
        request,
        template,
        page,
        session,
        status=status_of(refusal),
        private=True,
        error=Message(refusal.template, **refusal.params),
        shown=shown,
    )
