"""Why a request is refused, by kind: the use cases raise these, each transport answers them.

::

    Refused                 a request refused; the message says why, in words for people
    ├── NotFound            what the request names does not exist (an objection, a repair
    │                       request)
    ├── AlreadyDecided      the objection or repair request was decided already: a decision is
    │                       final, and a second one would overwrite it
    ├── Taken               the name is registered already (a relying party): a second
    │                       registration would take over the first one's checks
    └── NotAllowed          the request as made breaks a rule: no reason given, a record that is
                            not one's own, repair asked before the minimum display period or of
                            a positive record, an objection to a record whose objection is open,
                            a key that cannot be bound to the name given, text that is not plain

The API answers them 404, 409 (AlreadyDecided and Taken) and 422
(:mod:`xinyong.service.refusals`); the portal shows the form's page again with the reason
(:mod:`xinyong.web.refusals`). The kind decides the answer, never the wording of the message.
They are ``ValueError``\\ s, as the errors they replace were.

A message that names values is a template (``"no record %(record)s in your file"``) and the values
its parameters: the refusal's text, which the API answers, is the template filled; the portal
translates the template first and fills it after (so no translated text ever holds the request's
data), showing a :class:`Word` parameter in its language too.
"""

from __future__ import annotations

__all__ = ["AlreadyDecided", "NotAllowed", "NotFound", "Refused", "Taken", "Word"]


class Word(str):
    """A refusal's parameter that is a word of the ledger's vocabulary (a status such as
    ``rejected``, a kind such as ``objection``), not the request's data: shown translated."""

    __slots__ = ()


class Refused(ValueError):
    """A request refused; the message says why, in words for the person who made it.

    ``message`` is the English text, or a template filled from ``params`` (``template`` and
    ``params`` keep both, for a transport that shows the refusal in another language)."""

    def __init__(self, message: str, /, **params: object) -> None:
        super().__init__(message % params if params else message)
        self.template = message
        self.params = params


class NotFound(Refused):
    """What the request names does not exist."""


class AlreadyDecided(Refused):
    """An objection or repair request that was decided already."""


class Taken(Refused):
    """A name that is registered already."""


class NotAllowed(Refused):
    """A request that breaks a rule as made (the message names the rule)."""
