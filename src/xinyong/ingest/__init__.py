"""Ingest: read files of records or subjects, validate, quarantine bad rows, append."""
