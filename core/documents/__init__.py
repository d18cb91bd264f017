"""Documents (domain.md §8): the stored PDFs, their versions and SHA-256, listing and download.

Domain-free: the domains render (``<domain>/pdf.py`` on ``core.pdf``), this package stores and serves.
"""
