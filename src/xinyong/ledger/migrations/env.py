"""Alembic environment: migrations run on a connection handed over by xinyong.ledger.database."""

from __future__ import annotations

from alembic import context

from xinyong.ledger.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only when someone runs the alembic CLI by hand
    raise RuntimeError("run migrations through `xinyong db upgrade`, which passes a connection")
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
