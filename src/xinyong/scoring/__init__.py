"""Scoring: standings of subjects under a scheme, their explanations and their replay."""
