"""Who may see a portal page: the public, a signed-in subject, a signed-in operator.

Portal pages are kept out of the OpenAPI document (they are not an API), so the route-by-role
test of the API does not see them; ``tests/web/test_web.py`` tries every page with every kind of
visitor instead. A page that needs a sign-in sends an anonymous visitor to the sign-in page (its
JSON twin answers 401); a visitor signed in with another role gets 403.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from xinyong.application.context import Context
from xinyong.application.keys import Role
from xinyong.application.ratelimit import RateLimiterDown, Throttled, public_caller, take_or_refuse
from xinyong.domain.refusals import Word
from xinyong.i18n import N_, Message
from xinyong.web.sessions import SESSION_COOKIE, WebSession, find_session, same_token

__all__ = [
    "ROLE_NAMES",
    "OperatorVisitor",
    "PageError",
    "SubjectVisitor",
    "Visitor",
    "check_form",
    "visitor",
]


class PageError(Exception):
    """A page that cannot be shown: rendered as an HTML error page, or as JSON for a twin.

    A 401 on an HTML page becomes a redirect to the sign-in page. ``message`` is marked with
    ``N_``; a message that names values is a template filled from ``params``: a twin answers it
    in English, the error page shows it in the page's language (a :class:`Message`).
    """

    def __init__(self, status: int, message: str, /, **params: object) -> None:
        self.message = Message(message, **params)
        super().__init__(self.message)
        self.status = status


ROLE_NAMES = {Role.SUBJECT: N_("subject"), Role.OPERATOR: N_("operator")}
"""The roles a portal session has (the sign-in admits no other), named as their values."""


def visitor(request: Request) -> WebSession | None:
    """The visitor's live session, if signed in."""
    ctx: Context = request.app.state.context
    with ctx.engine.connect() as conn:
        return find_session(conn, request.cookies.get(SESSION_COOKIE, ""))


Visitor = Annotated[WebSession | None, Depends(visitor)]


def _guard(role: Role) -> Callable[[WebSession | None], WebSession]:
    def guard(session: Visitor) -> WebSession:
        if session is None:
            raise PageError(401, N_("Please sign in to see this page."))
        if session.principal.role is not role:
            raise PageError(
                403,
                N_("This page is for %(role)ss; you are signed in as %(signed_in)s."),
                role=Word(ROLE_NAMES[role]),
                signed_in=Word(ROLE_NAMES[session.principal.role]),
            )
        return session

    return guard


SubjectVisitor = Annotated[WebSession, Depends(_guard(Role.SUBJECT))]
"""A visitor signed in with a subject's key."""
OperatorVisitor = Annotated[WebSession, Depends(_guard(Role.OPERATOR))]
"""A visitor signed in with an operator's key."""


def check_form(session: WebSession, csrf: str) -> None:
    """Refuse a form whose token is not the session's (a forged cross-site request)."""
    if not same_token(csrf, session.csrf):
        raise PageError(403, N_("The form expired or came from elsewhere. Please reload the page."))


async def public_page_limit(request: Request) -> None:
    """The anonymous caller's rate limit on the pages that cost work (a search of every list,
    a list's CSV): 429 (or 503 when the limiter is down) as the API answers, as a page."""
    ctx: Context = request.app.state.context
    try:
        caller = public_caller(request.client.host if request.client else None)
        await take_or_refuse(ctx.buckets, caller)
    except RateLimiterDown as exc:
        raise PageError(503, N_("The rate limiter is unavailable; try again.")) from exc
    except Throttled as exc:
        raise PageError(
            429, N_("Too many requests; try again in %(seconds)s s."), seconds=exc.retry_after
        ) from exc
