"""Where a request may send the browser next."""
from __future__ import annotations

from urllib.parse import urlsplit


def safe_next(target: str | None) -> str | None:
    """``target`` when it is a path on this site, else None: no open redirect to another host.

    Refused: absolute URLs (``http://evil``), scheme-relative ones (``//evil``), and backslashes or
    control characters that browsers normalise into one of those (``/\\evil``).
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target
