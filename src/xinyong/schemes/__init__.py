"""Schemes: pilots as declarative TOML files, their semantics, lint and compilation."""
