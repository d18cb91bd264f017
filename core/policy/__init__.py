"""Versioned policy: every number of domain.md as a record with an effective date."""
