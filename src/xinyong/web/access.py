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
from xinyong.web.sessions import SESSION_COOKIE, WebSession, find_session, same_token

__all__ = [
    "OperatorVisitor",
    "PageError",
    "SubjectVisitor",
    "Visitor",
    "check_form",
    "visitor",
]


class PageError(Exception):
    """A page that cannot be shown: rendered as an HTML error page, or as JSON for a twin.

    A 401 on an HTML page becomes a redirect to the sign-in page.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def visitor(request: Request) -> WebSession | None:
    """The visitor's live session, if signed in."""
    ctx: Context = request.app.state.context
    with ctx.engine.connect() as conn:
        return find_session(conn, request.cookies.get(SESSION_COOKIE, ""))


Visitor = Annotated[WebSession | None, Depends(visitor)]


def _guard(role: Role) -> Callable[[WebSession | None], WebSession]:
    def guard(session: Visitor) -> WebSession:
        if session is None:
            raise PageError(401, "Please sign in to see this page.")
        if session.principal.role is not role:
            raise PageError(
                403,
                f"This page is for {role.value}s; you are signed in as "
                f"{session.principal.role.value}.",
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
        raise PageError(403, "The form expired or came from elsewhere. Please reload the page.")


async def public_page_limit(request: Request) -> None:
    """The anonymous caller's rate limit on the pages that cost work (a search of every list,
    a list's CSV): 429 (or 503 when the limiter is down) as the API answers, as a page."""
    ctx: Context = request.app.state.context
    try:
        caller = public_caller(request.client.host if request.client else None)
        await take_or_refuse(ctx.buckets, caller)
    except RateLimiterDown as exc:
        raise PageError(503, "The rate limiter is unavailable; try again.") from exc
    except Throttled as exc:
        raise PageError(429, f"Too many requests; try again in {exc.retry_after} s.") from exc
