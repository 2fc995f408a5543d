"""Engines: where Ibis meets DuckDB, PostgreSQL and Spark (the only layer that imports them).

Each engine is a :class:`~xinyong.engines.backend.Backend`; the steps every engine takes (the
peer scores, then the compiled standings) are written once in :mod:`xinyong.engines.backend`.
"""
