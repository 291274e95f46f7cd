"""Diversity: caps met whenever they can be, reported when not, MMR lambda, pins counted."""

from __future__ import annotations

from collections import Counter

import pytest

from newsrec.engine import Cap, ConflictKind, Diversity, FreshSource, Pin, Ranker, Rules
from newsrec.engine.pool import Pool
from newsrec.engine.types import FeedResult
from tests.unit.engine.builders import article, axis, ctx, pool_of, reader

EVERYTHING = [FreshSource(window_hours=10_000, limit=10_000)]


def feed(pool: Pool, rules: Rules, n: int = 10) -> FeedResult:
    return Ranker(EVERYTHING).rank(pool, reader(), ctx(), rules, n=n)


def sections(result: FeedResult, k: int) -> Counter[str]:
    return Counter(i.section for i in result.items[:k])


# six fresh Politics stories outrank four older ones from other sections
SKEWED = pool_of(
    *[article(i, section="Politics", hours_old=i * 0.1) for i in range(1, 7)],
    article(7, section="Sport", hours_old=20),
    article(8, section="Science", hours_old=21),
    article(9, section="Culture", hours_old=22),
    article(10, section="Sport", hours_old=23),
)


def test_without_caps_the_top_is_all_politics() -> None:
    assert sections(feed(SKEWED, Rules()), 5) == {"Politics": 5}


@pytest.mark.parametrize(("max_per", "top_k"), [(1, 4), (2, 5), (2, 6), (3, 7)])
def test_section_cap_met_when_possible(max_per: int, top_k: int) -> None:
    rules = Rules(diversity=Diversity(caps=(Cap("section", max_per, top_k),)))
    result = feed(SKEWED, rules)
    assert max(sections(result, top_k).values()) <= max_per
    assert result.conflicts == ()
    assert len(result.items) == 10  # caps reorder, they never drop articles


def test_cap_keeps_best_order_within_limits() -> None:
    rules = Rules(diversity=Diversity(caps=(Cap("section", 2, 4),)))
    assert feed(SKEWED, rules).article_ids[:4] == [1, 2, 7, 8]


def test_unmeetable_cap_fills_with_best_and_reports() -> None:
    rules = Rules(diversity=Diversity(caps=(Cap("section", 1, 6, rule_id=3),)))
    result = feed(SKEWED, rules)
    # four sections exist: positions 5-6 must take the best remaining (Politics 2, 3)
    assert result.article_ids[:6] == [1, 7, 8, 9, 2, 3]
    assert [c.kind for c in result.conflicts] == [ConflictKind.CAP_UNMET]
    assert result.conflicts[0].rule_id == 3


def test_cap_on_selected_values_only() -> None:
    rules = Rules(diversity=Diversity(caps=(Cap("section", 0, 3, values=frozenset({"Politics"})),)))
    assert "Politics" not in sections(feed(SKEWED, rules), 3)


@pytest.mark.parametrize("field", ["author", "tag"])
def test_author_and_tag_caps(field: str) -> None:
    pool = pool_of(
        *[article(i, authors=("Ada",), tags=("x",), hours_old=i * 0.1) for i in range(1, 5)],
        article(5, authors=("Bo",), tags=("y",), hours_old=10),
        article(6, authors=("Cy",), tags=("z",), hours_old=11),
    )
    result = feed(pool, Rules(diversity=Diversity(caps=(Cap(field, 1, 3),))))  # type: ignore[arg-type]
    assert result.article_ids[:3] == [1, 5, 6]


def test_pins_count_toward_caps() -> None:
    rules = Rules(
        pins=(Pin(9, slot=1),),
        diversity=Diversity(caps=(Cap("section", 1, 4),)),
    )
    result = feed(SKEWED, rules)
    assert result.article_ids[:4] == [9, 1, 7, 8]  # Culture is used up by the pin


def test_pins_beat_caps_and_say_so() -> None:
    rules = Rules(
        pins=(Pin(1, slot=1), Pin(2, slot=2)),
        diversity=Diversity(caps=(Cap("section", 1, 5),)),
    )
    result = feed(SKEWED, rules)
    assert result.article_ids[:2] == [1, 2]
    assert [c.kind for c in result.conflicts] == [ConflictKind.PIN_EXCEEDS_CAP]
    assert sections(result, 5)["Politics"] == 2  # nothing else from Politics joins them


def test_mmr_lambda_trades_score_for_novelty() -> None:
    # 1-3 are near-duplicates and slightly fresher than 4 and 5
    pool = pool_of(
        article(1, vector=axis(0), hours_old=1.0),
        article(2, vector=axis(0, 0.05, towards=1), hours_old=1.1),
        article(3, vector=axis(0, 0.1, towards=1), hours_old=1.2),
        article(4, vector=axis(3), hours_old=1.3),
        article(5, vector=axis(5), hours_old=1.4),
    )
    pure = feed(pool, Rules(diversity=Diversity(mmr_lambda=1.0))).article_ids
    mixed = feed(pool, Rules(diversity=Diversity(mmr_lambda=0.5))).article_ids
    assert pure[:3] == [1, 2, 3]
    assert mixed[:3] == [1, 4, 5]
    assert sorted(mixed) == sorted(pure)


def test_diversity_candidates_bound_the_shortlist() -> None:
    result = feed(SKEWED, Rules(diversity=Diversity(candidates=3)))
    assert result.article_ids == [1, 2, 3]
