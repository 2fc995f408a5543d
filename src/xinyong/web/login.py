"""Signing in and out of the portal with a subject's or an operator's API key."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from xinyong.application.context import Context
from xinyong.application.keys import Principal, Role, authenticate
from xinyong.i18n import N_, Message
from xinyong.ledger.database import WRITE
from xinyong.web.access import PageError, Visitor, check_form
from xinyong.web.dependencies import context
from xinyong.web.sessions import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    clear_cookie,
    close_session,
    new_login_token,
    open_session,
    same_token,
    set_cookie,
)
from xinyong.web.templates import render
from xinyong.web.twins import PageData

__all__ = ["router"]

router = APIRouter()
Ctx = Annotated[Context, Depends(context)]

HOMES = {Role.SUBJECT: "/me", Role.OPERATOR: "/console"}
"""Where each role lands after signing in (the roles the portal admits)."""
_LOGIN_MINUTES = 30


def _safe_next(target: str, role: Role) -> str:
    """Only a path on this site (never ``//elsewhere``), else the role's home."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return HOMES[role]


def _state(session: Visitor) -> PageData:
    return {
        "signed_in": session is not None,
        "role": session.principal.role.value if session else None,
        "roles": [role.value for role in HOMES],
    }


@router.get("/login.json", include_in_schema=False)
def login_state(session: Visitor) -> PageData:
    """The sign-in page's twin: whether the visitor is signed in, and as which role."""
    return _state(session)


def _form(
    request: Request, session: Visitor, next_path: str, *, error: str = "", status: int = 200
) -> HTMLResponse:
    token = new_login_token()
    page = {**_state(session), "next": next_path, "login_token": token}
    response = render(
        request, "login.html", page, session, error=error, status=status, shown="/login"
    )
    set_cookie(request, response, LOGIN_COOKIE, token, _LOGIN_MINUTES * 60)
    return response


@router.get("/login", include_in_schema=False, response_class=HTMLResponse)
def login_form(request: Request, session: Visitor, next: str = "") -> HTMLResponse:
    """The sign-in form."""
    return _form(request, session, next)


@router.post("/login", include_in_schema=False, response_model=None)
async def login(
    request: Request,
    ctx: Ctx,
    session: Visitor,
    token: Annotated[str, Form(max_length=400)] = "",
    login_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Exchange a key for a session cookie and go to the page asked for (or the role's home)."""
    if not same_token(login_token, request.cookies.get(LOGIN_COOKIE, "")):
        return _form(
            request,
            session,
            next,
            status=403,
            error=Message(N_("The form expired or came from elsewhere. Please try again.")),
        )

    def sign_in() -> tuple[Principal | None, str]:
        with ctx.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            principal = authenticate(conn, token.strip())
            if principal is None or principal.role not in HOMES:
                return principal, ""
            if session is not None:  # signing in again replaces the session
                close_session(conn, session)
            return principal, open_session(conn, principal, ctx.settings.session_minutes)

    principal, session_id = await run_in_threadpool(sign_in)
    if principal is None:
        unknown = Message(N_("That key is unknown or revoked."))
        return _form(request, session, next, status=401, error=unknown)
    if not session_id:
        return _form(
            request,
            session,
            next,
            status=403,
            error=Message(
                N_("The portal is for subjects and operators, not %(role)s keys."),
                role=principal.role.value,
            ),
        )
    response = RedirectResponse(_safe_next(next, principal.role), status_code=303)
    set_cookie(request, response, SESSION_COOKIE, session_id, ctx.settings.session_minutes * 60)
    clear_cookie(request, response, LOGIN_COOKIE)
    return response


@router.post("/logout", include_in_schema=False)
async def logout(
    request: Request,
    ctx: Ctx,
    session: Visitor,
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> RedirectResponse:
    """End the session."""
    if session is None:
        raise PageError(401, N_("You are not signed in."))
    check_form(session, csrf)

    def sign_out() -> None:
        with ctx.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            close_session(conn, session)

    await run_in_threadpool(sign_out)
    response = RedirectResponse("/", status_code=303)
    clear_cookie(request, response, SESSION_COOKIE)
    return response
