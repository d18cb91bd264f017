"""The risk-compensation pool: claims, shares, recoveries, circuit breaker, stress test (domain.md §4)."""
