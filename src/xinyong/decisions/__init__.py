"""Decisions: checks of measures for relying parties, the inquiry log, notices, replay."""
