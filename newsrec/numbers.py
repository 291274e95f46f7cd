"""One strict parser for whole numbers typed by people or sent in URLs.

``str.isdigit()`` accepts "²" and "٣" and ``int()`` refuses the first, so checking one and
converting with the other answered 500; ids beyond a bigint failed in the database. Every id,
limit and count from a request or a form goes through :func:`ascii_int`.
"""

from __future__ import annotations

BIGINT_MAX = 2**63 - 1


def ascii_int(raw: object, *, low: int = 0, high: int = BIGINT_MAX) -> int | None:
    """``raw`` as an int when it is ASCII digits (surrounding spaces allowed) within
    [low, high]; None otherwise (also for None, bools, floats and signs)."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw if low <= raw <= high else None
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if not text or len(text) > 19 or not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if low <= number <= high else None
