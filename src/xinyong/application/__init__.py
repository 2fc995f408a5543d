"""The use cases both transports run, and the state they share.

The API (:mod:`xinyong.service`) and the portal (:mod:`xinyong.web`) are thin over this package:
a subject files an objection or asks for repair (:mod:`~xinyong.application.filing`), an operator
decides one (:mod:`~xinyong.application.review`), a subject reads their file
(:mod:`~xinyong.application.subject_file`), keys are created, revoked and authenticated
(:mod:`~xinyong.application.keys`), and every change to a subject's records is followed by the
refresh of their listings and corrections (:mod:`~xinyong.application.changes`). A use case that
refuses raises a kind of :class:`~xinyong.domain.refusals.Refused`, which each transport answers
its own way.

What they share is one :class:`~xinyong.application.context.Context` per process: the ledger's
database, the catalog, the active schemes, the settings and the clock, the caches, and what a
running service keeps open (the inquiry log, the rate limits, the reads of
stored standings). Nothing here imports FastAPI, Starlette or Jinja (an import-linter contract).
"""
