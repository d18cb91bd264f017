"""The seed fund: applications, approvals and interest-free seed loans (domain.md §5)."""
