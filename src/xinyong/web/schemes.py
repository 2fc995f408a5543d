"""A page per active scheme: its rules, grades, lists and measures in plain words."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from xinyong.application.context import Context
from xinyong.i18n import gettext_for
from xinyong.schemes.overrides import GUARDRAILS
from xinyong.scoring.store import recorded_overrides
from xinyong.web.dependencies import context
from xinyong.web.lists import active_scheme
from xinyong.web.plain_language import describe_scheme
from xinyong.web.twins import PageData, PageLanguage, twin

__all__ = ["override_shown", "router"]

router = APIRouter()
Ctx = Annotated[Context, Depends(context)]


def override_shown(override: Mapping[str, Any], language: str) -> dict[str, Any]:
    """A recorded override as a page shows it: with the title of its guardrail check (the part
    of the finding before ``@``) in ``language``; the finding's message stays as recorded."""
    check = str(override["finding"]).partition("@")[0]
    title = GUARDRAILS.get(check)
    return {**override, "title": gettext_for(language)(title) if title else check}


@twin(router, "/schemes/{scheme_id}", "scheme.html")
def scheme_page(ctx: Ctx, language: PageLanguage, scheme_id: str) -> PageData:
    """The active version of a scheme, explained in the page's language."""
    with ctx.engine.connect() as conn:
        loaded = active_scheme(conn, ctx, scheme_id)
        overrides = recorded_overrides(conn, scheme_id, loaded.version)
    return {
        **describe_scheme(
            loaded.scheme,
            ctx.catalog,
            ctx.settings.grace_days,
            ctx.settings.objection_days,
            language,
        ),
        "version": loaded.version,
        "as_of": ctx.today().isoformat(),
        "overrides": [override_shown(r.public(), language) for r in overrides],
    }
