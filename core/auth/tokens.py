"""Placeholder: replaced by the identity work."""
