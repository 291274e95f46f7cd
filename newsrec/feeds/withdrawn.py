"""Articles withdrawn since the feeds were built, hidden from stored feeds until rebuilt."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from newsrec.engine.sources import RECENT_READING
from newsrec.memo import Memo

WITHDRAWN_KEY = "newsrec:withdrawn"
WITHDRAWN_SECONDS = 6 * 3600  # longer than any fan-out takes to rebuild every feed
WITHDRAWN_LOCAL_SECONDS = 2.0  # each process re-reads the shared list at most this often
_withdrawn_local: Memo[frozenset[int]] = Memo("withdrawn articles", WITHDRAWN_LOCAL_SECONDS)


def articles_withdraw(*, article_ids: Sequence[int]) -> None:
    """Hide retracted/unpublished/deleted articles from stored feeds at once, until rebuilt."""
    from django.core.cache import cache

    now = time.time()
    current = {k: v for k, v in (cache.get(WITHDRAWN_KEY) or {}).items() if v > now}
    current.update({int(i): now + WITHDRAWN_SECONDS for i in article_ids})
    cache.set(WITHDRAWN_KEY, current, timeout=WITHDRAWN_SECONDS)
    _withdrawn_local.clear()


def withdrawn_local_clear() -> None:
    """Forget this process's copy of the shared list (it is re-read on the next call)."""
    _withdrawn_local.clear()


def withdrawn_ids() -> frozenset[int]:
    """Articles withdrawn since the feeds were built: one small cache read every 2 s per process."""
    from django.core.cache import cache

    def load() -> frozenset[int]:
        now = time.time()
        return frozenset(k for k, v in (cache.get(WITHDRAWN_KEY) or {}).items() if v > now)

    return _withdrawn_local.get(load)


def without_withdrawn(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stored items without the withdrawn articles; an item whose "because you read" seed was
    withdrawn keeps its place but no longer names that story (nor heads a rail with it)."""
    gone = withdrawn_ids()
    if not gone:
        return items
    return [
        {**i, "reason": RECENT_READING, "seed_id": None} if i.get("seed_id") in gone else i
        for i in items
        if i["article_id"] not in gone
    ]
