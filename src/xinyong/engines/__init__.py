"""Engines: where Ibis meets DuckDB, PostgreSQL and Spark (the only layer that imports them)."""
