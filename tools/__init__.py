"""Deterministic, read-only evidence extractors and tenant clients."""
