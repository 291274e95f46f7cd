"""Read-time rules on a stored feed: filters, scoped boosts, freshness, pins, caps, in order."""

from __future__ import annotations

from typing import Any

import pytest

from newsrec.engine import (
    Boost,
    Cap,
    Diversity,
    FeedItem,
    FeedResult,
    Filters,
    Freshness,
    Pin,
    Rules,
    Segment,
)
from newsrec.engine.overlay import overlay, overlay_prepare, with_newest
from newsrec.engine.ranker import PIN_SOURCE
from newsrec.engine.scoring import Weights
from tests.unit.engine.builders import article, ctx, pool_of, reader

POOL = pool_of(
    article(1, section="Politics", hours_old=1),
    article(2, section="Politics", hours_old=2),
    article(3, section="Sport", hours_old=3),
    article(4, section="Sport", hours_old=4),
    article(5, section="Culture", hours_old=5, tags=("gore",)),
    article(6, section="Culture", hours_old=48),
)


def stored(*pairs: tuple[int, float], freshness: float = 1.0) -> list[FeedItem]:
    """Items as a stored feed holds them: best first, with their freshness factor."""
    return [
        FeedItem(
            article_id=a, score=s, source="interest", reason="Because you like it",
            breakdown={"freshness": freshness, "rules": 1.0, "score": s},
            section=POOL.section_names[POOL.index[a]],
        )
        for a, s in pairs
    ]  # fmt: skip


FEED = stored((1, 0.9), (3, 0.8), (5, 0.7), (2, 0.6), (4, 0.5))


def run(
    rules: Rules,
    items: list[FeedItem] = FEED,
    *,
    boosts: tuple[Boost, ...] = (),
    n: int = 5,
    device: str = "",
    **who: Any,
) -> FeedResult:
    prepared = overlay_prepare(POOL, ctx(device=device), rules, extra_boosts=boosts)
    return overlay(prepared, items, reader(**who), n=n)


def test_no_rules_keeps_the_stored_order_and_scores() -> None:
    result = run(Rules(freshness=Freshness(half_life_hours=1e9)))
    assert result.article_ids == [1, 3, 5, 2, 4]
    # a half-life of forever makes the freshness factor 1, as stored
    assert [round(i.score, 6) for i in result.items] == [0.9, 0.8, 0.7, 0.6, 0.5]


def test_filters_remove_and_scoped_boosts_reorder() -> None:
    rules = Rules(filters=Filters(blocked_tags=frozenset({"gore"})))
    result = run(rules, boosts=(Boost("section", "Sport", 3.0),))
    assert result.article_ids[:2] == [3, 4]  # Sport tripled
    assert 5 not in result.article_ids
    assert result.items[0].breakdown["rules"] == pytest.approx(3.0)


def test_freshness_is_replaced_not_compounded() -> None:
    weights = Weights()
    rules = Rules(freshness=Freshness(half_life_hours=1.0))
    result = run(rules)
    by_id = {i.article_id: i for i in result.items}
    fresh_1h = (1 - weights.freshness) + weights.freshness * 0.5
    assert by_id[1].score == pytest.approx(0.9 * fresh_1h)
    assert by_id[1].breakdown["freshness"] == pytest.approx(fresh_1h)


def test_pins_take_their_slot_and_respect_the_device_and_the_readers_history() -> None:
    tablet = Pin(article_id=6, slot=1, segment=Segment(devices=frozenset({"tablet"})))
    rules = Rules(pins=(tablet,), freshness=Freshness(half_life_hours=1e9))
    assert run(rules, device="tablet").article_ids[0] == 6
    assert run(rules, device="tablet").items[0].source == PIN_SOURCE
    assert 6 not in run(rules, device="mobile").article_ids
    read = run(rules, device="tablet", read_ids=frozenset({6}))
    assert 6 not in read.article_ids
    assert [c.kind for c in read.conflicts] == ["pin_excluded"]
    new_only = Rules(pins=(Pin(article_id=6, slot=2, segment=Segment(visitors="new")),))
    assert 6 in run(new_only).article_ids
    assert 6 not in run(new_only, returning=True).article_ids


def test_caps_of_the_layered_rules_are_kept() -> None:
    rules = Rules(diversity=Diversity(caps=(Cap("section", 1, 3),)))
    top = run(rules).items[:3]
    assert len({i.section for i in top}) == 3


def test_newest_candidates_follow_the_stored_items_until_a_rule_lifts_them() -> None:
    items = with_newest(POOL, stored((1, 0.9)), [2, 1, 6], source="fresh", reason="New")
    assert [i.article_id for i in items] == [1, 2, 6]
    assert items[1].score < items[0].score
    lifted = run(Rules(), items, boosts=(Boost("article", 6, 100.0),))
    assert lifted.article_ids[0] == 6
