"""The orchestrator end to end: reasons, scoring features, batch equality, overridable steps."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from newsrec.engine import (
    Boost,
    Cap,
    Context,
    Diversity,
    EngineInputError,
    FeedItem,
    FeedResult,
    Filters,
    FreshSource,
    Interest,
    ItemColumns,
    Pin,
    Ranker,
    ReaderState,
    Rules,
    Seed,
    Weights,
    rank,
    rank_many,
)
from tests.unit.engine.builders import (
    DIM,
    NO_RULES,
    NOW,
    article,
    axis,
    ctx,
    interested_in,
    pool_of,
    random_pool,
    reader,
)

NEWSROOM = pool_of(
    article(1, vector=axis(0), section="Politics", title="Budget vote tonight"),
    article(2, vector=axis(0, 0.2, towards=1), section="Politics", hours_old=30),
    article(3, vector=axis(2), section="Politics", trending=500.0, hours_old=20),
    article(4, vector=axis(4), section="Culture", editor_pick=True, hours_old=40),
    article(5, vector=axis(6), section="Science", hours_old=0.5),
    article(6, vector=axis(6, 0.1, towards=7), section="Sport", hours_old=60),
)


def reasons(result: FeedResult) -> dict[int, str]:
    return {i.article_id: i.reason for i in result.items}


def test_every_item_has_source_reason_and_breakdown() -> None:
    who = reader(seeds=(Seed(1),), read_ids=frozenset({1}), interests=(Interest(axis(7)),))
    result = rank(NEWSROOM, who, ctx(), Rules(pins=(Pin(6, slot=6),)))
    got = reasons(result)
    assert got[2] == "Because you read Budget vote tonight"
    assert got[3] == "Trending in Politics"
    assert got[4] == "Editor's pick"
    assert got[5] == "New in Science"
    assert got[6] == "Pinned by the editors"
    by_id = {i.article_id: i for i in result.items}
    assert by_id[2].seed_id == 1
    assert by_id[2].source == "because_you_read"
    for item in result.items:
        assert item.reason
        assert item.source
        assert item.score == pytest.approx(item.breakdown["score"])
        assert {"relevance", "popularity", "freshness", "rules", "fatigue"} <= set(item.breakdown)


def test_interest_match_reason() -> None:
    result = rank(NEWSROOM, interested_in(6), ctx(), NO_RULES)
    assert reasons(result)[6] == "Recommended for you"


def test_new_reader_gets_cold_start_mix() -> None:
    result = rank(NEWSROOM, reader(), ctx(), NO_RULES)
    assert {i.section for i in result.items} == {"Politics", "Culture", "Science", "Sport"}
    assert "Popular right now" in reasons(result).values()


def test_personalisation_off_ignores_history_but_keeps_exclusions() -> None:
    history: dict[str, Any] = {"interests": (Interest(axis(6)),), "hidden_ids": frozenset({4})}
    on = rank(NEWSROOM, reader(**history), ctx(), NO_RULES)
    off = rank(NEWSROOM, reader(personalisation_enabled=False, **history), ctx(), NO_RULES)
    assert on.items[0].article_id in {5, 6}
    assert all(i.breakdown["relevance"] == 0 for i in off.items)
    assert 4 not in off.article_ids


def test_unclicked_impressions_sink() -> None:
    who = interested_in(0)
    before = rank(NEWSROOM, who, ctx(), NO_RULES)
    tired = rank(NEWSROOM, interested_in(0, unclicked_impressions={1: 8}), ctx(), NO_RULES)
    assert before.article_ids[0] == 1
    assert tired.article_ids.index(1) > 0
    item = next(i for i in tired.items if i.article_id == 1)
    assert item.breakdown["fatigue"] == pytest.approx(0.85**8)


def test_affinities_and_context_habits_lift_sections() -> None:
    plain = rank(NEWSROOM, reader(read_ids=frozenset({99})), ctx(), NO_RULES)
    fan = reader(read_ids=frozenset({99}), section_affinity={"Sport": 1.0})
    assert rank(NEWSROOM, fan, ctx(), NO_RULES).article_ids.index(6) < plain.article_ids.index(6)
    habit = reader(read_ids=frozenset({99}), context_habits={("mobile", "morning"): {"Sport": 1.0}})
    morning = rank(NEWSROOM, habit, ctx(device="mobile", local_hour=8), NO_RULES)
    evening = rank(NEWSROOM, habit, ctx(device="mobile", local_hour=20), NO_RULES)
    assert morning.article_ids.index(6) < evening.article_ids.index(6)


def test_weights_change_the_balance() -> None:
    who = interested_in(6, read_ids=frozenset())
    relevance_only = Ranker(weights=Weights(popularity=0, source=0, freshness=0)).rank(
        NEWSROOM, who, ctx(), NO_RULES
    )
    popularity_only = Ranker(weights=Weights(relevance=0, source=0, freshness=0)).rank(
        NEWSROOM, who, ctx(), NO_RULES
    )
    assert relevance_only.article_ids[0] in {5, 6}
    assert popularity_only.article_ids[0] == 3


def test_articles_readers_open_when_shown_rank_higher() -> None:
    # same clicks and trending; 7 is a little older but opened by 1 in 2 who saw it, 8 by 1 in 40
    shown = pool_of(
        article(7, vector=axis(1), hours_old=3, clicks=5.0, impressions=10.0, trending=1.0),
        article(8, vector=axis(2), hours_old=1, clicks=5.0, impressions=200.0, trending=1.0),
    )
    result = rank(shown, reader(), ctx(), NO_RULES)
    assert result.article_ids == [7, 8]
    by_id = {i.article_id: i.breakdown for i in result.items}
    assert by_id[7]["clickthrough"] == pytest.approx(1.0)
    assert by_id[8]["clickthrough"] == pytest.approx(0.0)
    without = Ranker(weights=Weights(clickthrough=0)).rank(shown, reader(), ctx(), NO_RULES)
    assert without.article_ids == [8, 7]  # the fresher one, when click-through does not count


def test_click_through_is_silent_until_the_pool_has_impressions() -> None:
    result = rank(NEWSROOM, interested_in(0), ctx(), NO_RULES)
    assert all(i.breakdown["clickthrough"] == 0.0 for i in result.items)
    old = Ranker(weights=Weights(clickthrough=0)).rank(NEWSROOM, interested_in(0), ctx(), NO_RULES)
    assert result.article_ids == old.article_ids


def test_feed_length_and_built_at() -> None:
    result = rank(NEWSROOM, interested_in(0), ctx(), NO_RULES, n=2)
    assert len(result.items) == 2
    assert result.built_at == NOW


def test_rank_many_equals_rank_for_each_reader() -> None:
    rng = np.random.default_rng(7)
    pool = random_pool(rng, 300, sections=["Politics", "Sport", "Science", "Culture"])
    ids = pool.ids.tolist()
    readers = [
        ReaderState(
            reader_id=r,
            interests=tuple(Interest(rng.normal(size=DIM).tolist()) for _ in range(r % 3)),
            seeds=tuple(Seed(int(a), float(rng.uniform(0.5, 2))) for a in rng.choice(ids, r % 4)),
            read_ids=frozenset(int(a) for a in rng.choice(ids, 5)),
            section_affinity={"Sport": 0.5} if r % 2 else {},
        )
        for r in range(12)
    ]
    rules = Rules(
        filters=Filters(blocked_tags=frozenset({"tag1"}), max_age_hours=80),
        boosts=(Boost("section", "Science", 1.5),),
        pins=(Pin(ids[0], slot=2), Pin(ids[1], slot=4)),
        diversity=Diversity(caps=(Cap("section", 3, 10),), mmr_lambda=0.7),
    )
    ranker = Ranker(chunk_size=5)
    batch = ranker.rank_many(pool, readers, ctx(), rules, n=20)
    assert [r.reader_id for r in batch] == list(range(12))
    for who, result in zip(readers, batch, strict=True):
        single = ranker.rank(pool, who, ctx(), rules, n=20)
        assert result.article_ids == single.article_ids
        assert [i.reason for i in result.items] == [i.reason for i in single.items]
        assert [i.score for i in result.items] == pytest.approx([i.score for i in single.items])
        assert result.conflicts == single.conflicts
    assert (
        rank_many(pool, readers[:2], ctx(), rules)[1].article_ids
        == rank(pool, readers[1], ctx(), rules).article_ids
    )


def test_a_step_can_be_overridden() -> None:
    class NoExclusions(Ranker):
        """Shows read articles again (e.g. for a 'history' surface)."""

        def exclusions(self, pool, reader):  # type: ignore[no-untyped-def]
            return np.zeros(len(pool), dtype=bool)

    who = interested_in(0, read_ids=frozenset({1}))
    assert 1 not in rank(NEWSROOM, who, ctx(), NO_RULES).article_ids
    assert NoExclusions().rank(NEWSROOM, who, ctx(), NO_RULES).article_ids[0] == 1


def test_items_are_columns_that_read_as_feed_items() -> None:
    who = reader(seeds=(Seed(1),), read_ids=frozenset({1}), interests=(Interest(axis(7)),))
    items = rank(NEWSROOM, who, ctx(), Rules(pins=(Pin(6, slot=2),))).items
    assert isinstance(items, ItemColumns)
    plain = tuple(
        FeedItem(i.article_id, i.score, i.source, i.reason, dict(i.breakdown), i.section,
                 i.seed_id)
        for i in items
    )  # fmt: skip
    assert items == plain
    assert plain == items
    assert list(items) == list(plain)
    assert items[1].pinned
    assert items[1].article_id == 6
    assert items[-1] == plain[-1]
    assert items[:2] == plain[:2]
    assert len(items) == len(plain) == len(items.article_ids)
    row = next(items.rows())
    assert row[:6] == (items[0].article_id, items[0].score, items[0].source, items[0].reason,
                       items[0].section, items[0].seed_id)  # fmt: skip
    assert dict(zip(items.keys, row[6], strict=True)) == dict(items[0].breakdown)
    assert items != plain[:-1]
    with pytest.raises(EngineInputError, match="one value per item"):
        ItemColumns(keys=(), article_ids=[1], scores=[], sources=[], reasons=[], sections=[],
                    seed_ids=[], breakdowns=[])  # fmt: skip


def test_explain_may_return_plain_items() -> None:
    class Terse(Ranker):
        def explain(self, query, gathered, rows, features, order, pinned):  # type: ignore[no-untyped-def]
            ids = query.pool.ids[np.asarray(order, dtype=np.int64)].tolist()
            return [FeedItem(i, 1.0, "terse", "Because", {}) for i in ids]

    result = Terse().rank(NEWSROOM, interested_in(0), ctx(), NO_RULES)
    assert isinstance(result.items, tuple)
    assert {i.source for i in result.items} == {"terse"}


def test_empty_pool_gives_empty_feed() -> None:
    empty = pool_of()
    result = rank(empty, interested_in(0), ctx(), Rules(pins=(Pin(1, 1),)))
    assert result.items == ()
    assert [c.kind for c in result.conflicts] == ["pin_not_in_pool"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: rank(NEWSROOM, interested_in(0), ctx(), NO_RULES, n=0), "n must be"),
        (
            lambda: rank(NEWSROOM, reader(interests=(Interest([1.0, 2.0]),)), ctx(), NO_RULES),
            "vectors need 8",
        ),
        (lambda: reader(seeds=(Seed(1, weight=-1),)), "weights"),
        (lambda: Context(now=NOW, local_hour=24), "local_hour"),
        (lambda: Weights(relevance=-1), "relevance"),
        (lambda: Ranker([FreshSource(), FreshSource()]), "distinct"),
    ],
)
def test_bad_input_raises_clear_errors(call: object, message: str) -> None:
    with pytest.raises(EngineInputError, match=message):
        call()  # type: ignore[operator]


def test_a_feed_stored_before_the_click_through_term_reads_with_the_right_names() -> None:
    from newsrec.feeds import breakdown_of

    # the twelve values a feed stored before "clickthrough" existed, in the order of that time
    old = [0.9, 0.1, 0.2, 0.3, 0.4, 1.5, 0.5, 0.75, 1.0, 0.0, 1.0, 1.1]
    names = ["relevance", "affinity", "popularity", "context", "source", "base", "decay",
             "freshness", "rules", "unclicked", "fatigue", "score"]  # fmt: skip
    assert breakdown_of({"breakdown": old}) == dict(zip(names, old, strict=True))
    result = rank(NEWSROOM, interested_in(0), ctx(), NO_RULES)
    assert breakdown_of({"breakdown": list(result.items[0].breakdown.values())})[
        "score"
    ] == pytest.approx(result.items[0].score)


def test_one_seed_product_serves_relevance_and_the_seed_signals() -> None:
    from newsrec.engine.similarity import ReaderSims

    who = reader(seeds=(Seed(1), Seed(4, weight=0.5)), read_ids=frozenset({1, 4}))
    sims = ReaderSims.for_reader(NEWSROOM, who)
    rows = np.arange(len(NEWSROOM))
    first = sims.seed_matrix(NEWSROOM, rows)
    np.testing.assert_allclose(first, sims.seed_vectors @ NEWSROOM.embeddings[rows].T)
    assert sims.seed_matrix(NEWSROOM, rows) is first  # the same candidates: no second product
    other = sims.seed_matrix(NEWSROOM, rows[::-1].copy())  # other candidates: their own
    np.testing.assert_allclose(other, first[:, ::-1])


def test_rank_many_reports_the_seconds_of_each_stage() -> None:
    stages: dict[str, float] = {}
    Ranker().rank_many(NEWSROOM, [interested_in(0)], ctx(), NO_RULES, 3, stages=stages)
    assert set(stages) == {"prepare", "similarities", "score", "diversity", "explain"}
    assert all(seconds >= 0 for seconds in stages.values())
