"""Engines: where Ibis expressions meet DuckDB, PostgreSQL and Spark. The only layer that imports them."""
