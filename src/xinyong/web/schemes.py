"""A page per active scheme: its rules, grades, lists and measures in plain words."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from xinyong.application.context import Context
from xinyong.scoring.store import recorded_overrides
from xinyong.web.dependencies import context
from xinyong.web.lists import active_scheme
from xinyong.web.plain_language import describe_scheme
from xinyong.web.twins import PageData, PageLanguage, twin

__all__ = ["router"]

router = APIRouter()
Ctx = Annotated[Context, Depends(context)]


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
        "overrides": [r.public() for r in overrides],
    }
