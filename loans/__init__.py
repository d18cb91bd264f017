"""Knowledge-value credit loans made by partner banks, and the programme's progress (domain.md §3)."""
