"""Routers of the decision service, one per audience."""
