"""OpenAPI links: which answer feeds which operation (a created key's id, to revoke it).

Clients and tools that follow links (Schemathesis's stateful tests among them) chain calls the
way a person would: file an objection, then decide it; make a check, then replay it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["link", "linked"]


def link(
    operation_id: str, body: dict[str, str] | None = None, **parameters: str
) -> dict[str, Any]:
    """A link to ``operation_id`` whose ``parameters`` (and ``body`` fields) are fields of the
    linking answer's JSON body (``name=field``)."""
    spec: dict[str, Any] = {
        "operationId": operation_id,
        "parameters": {name: f"$response.body#/{field}" for name, field in parameters.items()},
    }
    if body:
        spec["requestBody"] = {name: f"$response.body#/{field}" for name, field in body.items()}
    return spec


def linked(status: int, description: str, **links: dict[str, Any]) -> dict[str, Any]:
    """Route arguments declaring the links of the ``status`` answer."""
    return {"responses": {status: {"description": description, "links": links}}}
