"""The conduct ledger: append-only, tamper-evident, bitemporal."""
