"""Step 5 preparation: which pins hold which slots for one reader, with conflicts reported."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from newsrec.engine.pool import Pool
from newsrec.engine.rules import Pin, pin_active
from newsrec.engine.types import Conflict, ConflictKind, Context, ReaderState


@dataclass(frozen=True)
class PlacedPin:
    """A pin that won its slot: pool row and 0-based position."""

    pin: Pin
    row: int
    position: int


def resolve_pins(
    pool: Pool,
    pins: tuple[Pin, ...],
    reader: ReaderState,
    context: Context,
    *,
    live: np.ndarray,
    allowed: np.ndarray,
    excluded: np.ndarray,
    n: int,
) -> tuple[list[PlacedPin], list[Conflict]]:
    """Pins outside their window or segment are silently inactive; every other loss is reported.

    Precedence: hard filters and the reader's read/hidden list beat pins; among pins the
    stronger (priority, created_at, later in the tuple) takes a contested slot or article.
    """
    contenders = [
        (pin.priority, pin.created_at, order, pin)
        for order, pin in enumerate(pins)
        if pin_active(pin, context) and pin.segment.matches(reader, context)
    ]
    contenders.sort(key=lambda c: c[:3], reverse=True)
    placed: list[PlacedPin] = []
    conflicts: list[Conflict] = []
    slots: dict[int, Pin] = {}
    articles: set[int] = set()

    def report(kind: ConflictKind, pin: Pin, why: str) -> None:
        message = f"Pin of article {pin.article_id} at slot {pin.slot} dropped: {why}."
        conflicts.append(Conflict(kind, message, article_id=pin.article_id, rule_id=pin.rule_id))

    for _, _, _, pin in contenders:
        row = pool.index.get(pin.article_id)
        if row is None or not live[row]:
            report(ConflictKind.PIN_NOT_IN_POOL, pin, "the article is not live")
        elif not allowed[row]:
            report(ConflictKind.PIN_BLOCKED, pin, "a blocklist or max age removes the article")
        elif excluded[row]:
            report(ConflictKind.PIN_EXCLUDED, pin, "this reader has read or hidden the article")
        elif pin.slot > n:
            report(ConflictKind.PIN_OUT_OF_RANGE, pin, f"the feed has only {n} slots")
        elif pin.slot in slots:
            winner = slots[pin.slot].article_id
            report(ConflictKind.PIN_SLOT_TAKEN, pin, f"article {winner} holds the slot")
        elif pin.article_id in articles:
            report(ConflictKind.PIN_DUPLICATE, pin, "the article is pinned at a stronger slot")
        else:
            slots[pin.slot] = pin
            articles.add(pin.article_id)
            placed.append(PlacedPin(pin=pin, row=row, position=pin.slot - 1))
    placed.sort(key=lambda p: p.position)
    return placed, conflicts
