"""The registry all three domains share: partner banks (and, later, enterprises)."""
