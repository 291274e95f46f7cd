"""Read-time re-rank: nudge a stored feed toward the reader's habits for this device and hour,
and toward their reading style (binge or sample)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from newsrec.engine.errors import EngineInputError
from newsrec.engine.types import Context, FeedItem, ReaderState

# What a reading style favours: bingers get more of what they started, samplers the standouts.
STYLE_SOURCES = {
    "binge": frozenset({"because_you_read", "covisit"}),
    "sample": frozenset({"trending", "editor_pick"}),
}
STYLE_PULL = 0.4  # a style moves its items up by this share of max_shift
HABIT_REASON = 0.5  # a habit this strong names itself in the item's reason
# Reasons that say nothing specific: a habit that moved the item up replaces them.
GENERIC_SOURCES = frozenset({"interest", "fresh", "cold_start", "trending"})
DEVICE_WORDS = {"mobile": "on your phone", "tablet": "on your tablet", "desktop": "on a computer"}


def context_rerank(
    items: Sequence[FeedItem],
    reader: ReaderState,
    context: Context,
    *,
    max_shift: float = 5.0,
) -> list[FeedItem]:
    """Move items up by at most ``max_shift`` places, in proportion to the reader's habit for
    their section in this (device, daypart), and toward the reader's style; pinned items keep
    their slots. An item a strong habit moved up says so ("You often read Sport in the morning").

    Light by design: the stored order (with its diversity) stays unless a habit is strong, and the
    cost is one dictionary lookup per item plus a sort of N items.
    """
    if not (max_shift >= 0):
        raise EngineInputError(f"max_shift must be >= 0, got {max_shift!r}.")
    habits = reader.habit(context)
    favoured = STYLE_SOURCES.get(reader.style, frozenset()) if reader.personal_style else set()
    if not (habits or favoured) or max_shift == 0:
        return list(items)
    free = [(i, item) for i, item in enumerate(items) if not item.pinned]

    def pull(item: FeedItem) -> float:
        habit = min(max(habits.get(item.section, 0.0), 0.0), 1.0)
        return habit + (STYLE_PULL if item.source in favoured else 0.0)

    def key(pair: tuple[int, FeedItem]) -> tuple[float, float, int]:
        position, item = pair
        strength = pull(item)
        # on a tie the item with the stronger pull goes first, then the stored order
        return (position - max_shift * strength, -strength, position)

    keyed = sorted(free, key=key)
    out: list[FeedItem] = list(items)
    slots = [i for i, _ in free]
    for slot, (_, item) in zip(slots, keyed, strict=True):
        habit = habits.get(item.section, 0.0)
        if habit >= HABIT_REASON and item.source in GENERIC_SOURCES and context.daypart:
            where = DEVICE_WORDS.get(context.device, "")
            when = "at night" if context.daypart == "night" else f"in the {context.daypart}"
            reason = f"You often read {item.section} {when}"
            item = replace(item, reason=f"{reason} {where}".strip())
        out[slot] = item
    return out
