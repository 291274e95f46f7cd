"""Read-time re-rank: nudge a stored feed toward the reader's habits for this device and hour."""

from __future__ import annotations

from collections.abc import Sequence

from newsrec.engine.errors import EngineInputError
from newsrec.engine.types import Context, FeedItem, ReaderState


def context_rerank(
    items: Sequence[FeedItem],
    reader: ReaderState,
    context: Context,
    *,
    max_shift: float = 5.0,
) -> list[FeedItem]:
    """Move items up by at most ``max_shift`` places, in proportion to the reader's habit for
    their section in this (device, daypart); pinned items keep their slots.

    Light by design: the stored order (with its diversity) stays unless a habit is strong, and the
    cost is one dictionary lookup per item plus a sort of N items.
    """
    if not (max_shift >= 0):
        raise EngineInputError(f"max_shift must be >= 0, got {max_shift!r}.")
    habits = reader.habit(context)
    if not habits or max_shift == 0:
        return list(items)
    free = [(i, item) for i, item in enumerate(items) if not item.pinned]

    def key(pair: tuple[int, FeedItem]) -> tuple[float, float, int]:
        position, item = pair
        habit = min(max(habits.get(item.section, 0.0), 0.0), 1.0)
        # on a tie the item with the stronger habit goes first, then the stored order
        return (position - max_shift * habit, -habit, position)

    keyed = sorted(free, key=key)
    out: list[FeedItem] = list(items)
    slots = [i for i, _ in free]
    for slot, (_, item) in zip(slots, keyed, strict=True):
        out[slot] = item
    return out
