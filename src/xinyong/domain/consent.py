"""The catalog codes that record consent to be scored (read by ``[eligibility] consent``)."""

from __future__ import annotations

__all__ = ["CONSENT_GIVEN", "CONSENT_WITHDRAWN"]

CONSENT_GIVEN = "consent.given"
CONSENT_WITHDRAWN = "consent.withdrawn"
