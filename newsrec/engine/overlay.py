"""Read-time rules: re-apply a layered rule set to a feed that was built under the site-wide one.

Stored feeds are built under the site-wide rules. A set scoped to a section page, a device
class or an experiment variant is layered over them when a feed is read in that scope: its
``Rules`` are the site-wide rows and the scoped rows compiled together, and ``extra_boosts``
are the scoped set's own boosts (the site-wide ones are already in the stored scores).

Given the stored items (and any extra candidates, e.g. the newest articles of a section), the
steps of the engine run again on that short list, in the documented order:

1. hard filters of the layered rules (the scoped set's blocklists and max age add to the site's);
2. the scoped boosts multiply the stored scores;
3. freshness is recomputed: the stored freshness factor is replaced by the layered one;
4. caps and MMR of the layered rules place the candidates around
5. the pins of the layered rules (device-specific pins included: the read knows the device).

The candidates keep their source, reason and breakdown ("rules", "decay", "freshness" and
"score" are updated). Conflicts are reported as the full engine reports them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from newsrec.engine.diversity import assemble
from newsrec.engine.pins import resolve_pins
from newsrec.engine.pool import Pool
from newsrec.engine.ranker import PIN_REASON, PIN_SOURCE
from newsrec.engine.rules import (
    Boost,
    Rules,
    allowed_mask,
    boost_multiplier,
    freshness_decay,
    live_mask,
)
from newsrec.engine.scoring import Weights
from newsrec.engine.types import Context, FeedItem, FeedResult, ReaderState


@dataclass(frozen=True, eq=False)
class OverlayPrepared:
    """Reader-independent arrays of one (pool, context, rules): computed once, used per reader."""

    pool: Pool
    context: Context
    rules: Rules
    live: np.ndarray
    allowed: np.ndarray
    boosts: np.ndarray  # the extra (scoped) boosts only
    decay: np.ndarray
    fresh: np.ndarray  # the freshness factor of the score formula


def overlay_prepare(
    pool: Pool,
    context: Context,
    rules: Rules,
    *,
    extra_boosts: tuple[Boost, ...] = (),
    weights: Weights | None = None,
) -> OverlayPrepared:
    weights = weights or Weights()
    decay = freshness_decay(pool, rules.freshness, context)
    return OverlayPrepared(
        pool=pool,
        context=context,
        rules=rules,
        live=live_mask(pool, context),
        allowed=allowed_mask(pool, rules.filters, context),
        boosts=boost_multiplier(pool, extra_boosts, context),
        decay=decay,
        fresh=(1.0 - weights.freshness) + weights.freshness * decay,
    )


def with_newest(
    pool: Pool, items: Sequence[FeedItem], newest: Sequence[int], *, source: str, reason: str
) -> list[FeedItem]:
    """``items`` followed by the ``newest`` articles (ids, newest first) not among them, scored
    below the weakest item and in their order, so that only the rules (a boost, a pin) can
    lift one above a stored item. Their breakdown is empty: ``overlay`` adds the freshness."""
    out = list(items)
    have = {i.article_id for i in items}
    floor = min((i.score for i in items), default=1.0) or 1.0
    k = 0
    for article_id in newest:
        row = pool.index.get(article_id)
        if row is None or article_id in have:
            continue
        have.add(article_id)
        out.append(
            FeedItem(
                article_id=article_id, score=floor * 0.5 * 0.99**k, source=source,
                reason=reason, breakdown={}, section=pool.section_names[row],
            )
        )  # fmt: skip
        k += 1
    return out


def overlay(
    prepared: OverlayPrepared, items: Sequence[FeedItem], reader: ReaderState, *, n: int = 50
) -> FeedResult:
    """``items`` (best first, as stored) re-ranked under the prepared rules; see the module
    docstring.

    The pool must hold every candidate's article and every pinned article that may be placed;
    candidates missing from it are treated as no longer live. An item whose breakdown has no
    "freshness" factor (an extra candidate) gets the layered one multiplied in.
    """
    pool, context, rules = prepared.pool, prepared.context, prepared.rules
    allowed, boosts, decay, fresh = (
        prepared.allowed, prepared.boosts, prepared.decay, prepared.fresh
    )  # fmt: skip
    excluded = np.zeros(len(pool), dtype=bool)
    excluded[pool.indices_of(reader.read_ids)] = True
    excluded[pool.indices_of(reader.hidden_ids)] = True
    pins, conflicts = resolve_pins(
        pool, rules.pins, reader, context, live=prepared.live, allowed=allowed,
        excluded=excluded, n=n,
    )  # fmt: skip
    pinned_rows = {p.row for p in pins}
    by_row: dict[int, tuple[FeedItem, float]] = {}
    for item in items:
        row = pool.index.get(item.article_id)
        if row is None or row in by_row or not allowed[row] or excluded[row]:
            continue
        old_fresh = float(item.breakdown.get("freshness", 1.0)) or 1.0
        score = item.score * float(boosts[row]) * float(fresh[row]) / old_fresh
        by_row[row] = (item, score)

    free = [(row, score) for row, (_, score) in by_row.items() if row not in pinned_rows]
    # best first; on equal scores the stored order stands (the sort is stable)
    free.sort(key=lambda rs: -rs[1])
    rows = np.asarray([r for r, _ in free], dtype=np.int64)
    scores = np.asarray([s for _, s in free], dtype=np.float64)
    order, more = assemble(pool, rules.diversity, rows, scores, pins, n)

    out: list[FeedItem] = []
    for row in order:
        known = by_row.get(row)
        if known is None:  # a pin that was not among the candidates
            out.append(
                FeedItem(
                    article_id=int(pool.ids[row]), score=0.0, source=PIN_SOURCE,
                    reason=PIN_REASON, breakdown={"decay": float(decay[row]),
                    "freshness": float(fresh[row])}, section=pool.section_names[row],
                )
            )  # fmt: skip
            continue
        item, score = known
        pinned = row in pinned_rows
        out.append(
            FeedItem(
                article_id=item.article_id,
                score=score,
                source=PIN_SOURCE if pinned else item.source,
                reason=PIN_REASON if pinned else item.reason,
                breakdown=_updated(item.breakdown, boosts[row], decay[row], fresh[row], score),
                section=item.section or pool.section_names[row],
                seed_id=None if pinned else item.seed_id,
            )
        )
    return FeedResult(
        reader_id=reader.reader_id,
        items=tuple(out),
        conflicts=tuple(conflicts + more),
        rules_version=rules.version,
        built_at=context.now,
    )


def _updated(
    breakdown: Mapping[str, float], boost: float, decay: float, fresh: float, score: float
) -> dict[str, float]:
    values = dict(breakdown)
    values["rules"] = float(values.get("rules", 1.0)) * float(boost)
    values["decay"] = float(decay)
    values["freshness"] = float(fresh)
    values["score"] = float(score)
    return values
