"""Each candidate source on its own, through Query.for_reader."""

from __future__ import annotations

import numpy as np
import pytest

from newsrec.engine import (
    BecauseYouReadSource,
    CandidateSource,
    ColdStartSource,
    CovisitSource,
    EditorPickSource,
    FreshSource,
    Interest,
    InterestSource,
    Query,
    Seed,
    TrendingSource,
)
from newsrec.engine.pool import Pool
from newsrec.engine.sources import top_eligible
from newsrec.engine.types import ReaderState
from tests.unit.engine.builders import (
    NOW,
    article,
    axis,
    ctx,
    interested_in,
    pool_of,
    random_pool,
    reader,
    seeded,
)


def run(source: CandidateSource, pool: Pool, who: ReaderState) -> dict[int, float]:
    context = ctx()
    found = source.candidates(Query.for_reader(pool, who, context), source.prepare(pool, context))
    return dict(zip(pool.ids[found.rows].tolist(), found.scores.tolist(), strict=True))


def test_interest_source_ranks_by_similarity_to_interest_vectors() -> None:
    pool = pool_of(
        article(1, vector=axis(0)),
        article(2, vector=axis(0, 0.5, towards=1)),
        article(3, vector=axis(2)),
    )
    found = run(InterestSource(), pool, interested_in(0))
    assert list(found) == [1, 2]  # orthogonal article 3 is below min_similarity
    assert found[1] == pytest.approx(1.0)
    assert found[2] == pytest.approx(1 / np.sqrt(1.25), rel=1e-5)


def test_interest_weights_scale_secondary_interests() -> None:
    pool = pool_of(article(1, vector=axis(0)), article(2, vector=axis(1)))
    who = reader(interests=(Interest(axis(0), 2.0), Interest(axis(1), 1.0)))
    found = run(InterestSource(), pool, who)
    assert found[1] == pytest.approx(1.0)
    assert found[2] == pytest.approx(0.5)


def test_interest_source_skips_excluded_and_limits() -> None:
    pool = pool_of(*[article(i, vector=axis(0, i / 10, towards=1)) for i in range(1, 6)])
    found = run(InterestSource(limit=2), pool, interested_in(0, read_ids=frozenset({1})))
    assert list(found) == [2, 3]


@pytest.mark.parametrize(
    ("share_eligible", "floor"),
    [(0.9, 0.05), (0.02, 0.05), (0.9, 0.97), (0.9, 0.0)],
    ids=["estimate", "too-few-eligible", "floor-above-estimate", "no-floor"],
)
def test_top_eligible_is_the_exact_top_with_ties_to_the_lower_row(
    share_eligible: float, floor: float
) -> None:
    rng = np.random.default_rng(7)
    values = (rng.random(10_000) * 50).round() / 50  # coarse values: many ties at every rank
    values = values.astype(np.float32)
    eligible = rng.random(10_000) < share_eligible
    k = 300
    rows = np.flatnonzero(eligible & (values >= floor))
    expected = rows[np.lexsort((rows, -values[rows]))][:k]
    assert top_eligible(values, eligible, k, floor).tolist() == expected.tolist()


def test_because_you_read_keeps_the_seed_and_excludes_it() -> None:
    pool = pool_of(
        article(1, vector=axis(0)),
        article(2, vector=axis(0, 0.3, towards=1)),
        article(3, vector=axis(4)),
        article(4, vector=axis(4, 0.2, towards=5)),
    )
    who = seeded(1, 3)
    context = ctx()
    source = BecauseYouReadSource()
    found = source.candidates(Query.for_reader(pool, who, context), source.prepare(pool, context))
    assert found.seeds is not None
    by_id = dict(zip(pool.ids[found.rows].tolist(), found.seeds.tolist(), strict=True))
    assert by_id == {2: 0, 4: 1}  # neighbour -> position of its seed in reader.seeds
    assert source.reason(pool, who, pool.index[2], by_id[2]) == "Because you read Article 1"


def test_because_you_read_works_for_seeds_outside_the_pool() -> None:
    pool = pool_of(article(1, vector=axis(0)), article(2, vector=axis(3)))
    who = reader(seeds=(Seed(99, title="Old story", vector=axis(3)),))
    source = BecauseYouReadSource()
    assert list(run(source, pool, who)) == [2]
    assert source.reason(pool, who, 1, 0) == "Because you read Old story"


def test_because_you_read_cache_gives_the_same_answer_after_exclusions() -> None:
    # many near neighbours; the reader has read the nearest ones, which the cache holds
    pool = pool_of(
        article(100, vector=axis(0)),
        *[article(i, vector=axis(0, i / 50, towards=1)) for i in range(1, 30)],
    )
    source = BecauseYouReadSource(per_seed=3, cache_factor=2)
    context = ctx()
    cache = source.prepare(pool, context)
    who = seeded(100, hidden_ids=frozenset(range(1, 8)))
    query = Query.for_reader(pool, who, context)
    source.prefetch(pool, [query.sims], cache)
    cached = source.candidates(query, cache)
    fresh = source.candidates(query, {})
    assert pool.ids[cached.rows].tolist() == pool.ids[fresh.rows].tolist() == [8, 9, 10]


def test_because_you_read_lists_survive_a_reload_of_the_same_pool() -> None:
    """A cache that reloads its pool (every minute) drops the old pool object first: the lists
    computed for it carry over when the new pool has the same rows and vectors."""
    import gc

    def load() -> Pool:
        return pool_of(*[article(i, vector=axis(i % 4, i / 40, towards=(i + 1) % 4))
                         for i in range(1, 30)])  # fmt: skip

    source = BecauseYouReadSource(per_seed=3)
    context = ctx()
    pool = load()
    lists = source.prepare(pool, context)
    query = Query.for_reader(pool, seeded(5), context)
    source.prefetch(pool, [query.sims], lists)
    assert lists
    del pool, query
    gc.collect()
    reloaded = load()
    assert source.prepare(reloaded, context) is lists
    changed = pool_of(article(1, vector=axis(0)), article(2, vector=axis(1)))
    assert source.prepare(changed, context) == {}


def test_covisit_source_uses_the_co_visit_graph() -> None:
    pool = pool_of(
        article(1), article(2), article(3), covisits={1: [(2, 10.0), (3, 5.0)], 50: [(3, 4.0)]}
    )
    who = reader(
        seeds=(Seed(1, 1.0), Seed(50, 1.0, title="Archive piece")), read_ids=frozenset({1})
    )
    found = run(CovisitSource(), pool, who)
    assert found == {2: pytest.approx(1.0), 3: pytest.approx(1.0)}  # 3 is 50's best neighbour
    source = CovisitSource()
    assert source.reason(pool, who, 1, 0) == "Readers of Article 1 also read this"


def test_trending_takes_overall_top_and_per_section_top() -> None:
    pool = pool_of(
        article(1, section="Politics", trending=100.0),
        article(2, section="Politics", trending=90.0),
        article(3, section="Sport", trending=5.0),
        article(4, section="Sport", trending=1.0),
        article(5, section="Sport", trending=0.0),
    )
    found = run(TrendingSource(limit=1, per_section=1), pool, reader())
    assert set(found) == {1, 3}
    assert found[3] == pytest.approx(1.0)  # top of its section
    assert TrendingSource().reason(pool, reader(), 2, -1) == "Trending in Sport"


def test_trending_answers_shared_within_a_batch_follow_each_readers_exclusions() -> None:
    pool = pool_of(*[article(i, section="Politics", trending=100.0 - i) for i in range(1, 6)])
    source = TrendingSource(limit=2, per_section=1)
    context = ctx()
    prepared = source.prepare(pool, context)  # one batch: answers are shared by pattern

    def ids(who: ReaderState) -> list[int]:
        found = source.candidates(Query.for_reader(pool, who, context), prepared)
        return pool.ids[found.rows].tolist()

    assert ids(reader(1)) == [1, 2]
    assert ids(reader(2, read_ids=frozenset({1}))) == [2, 3]
    assert ids(reader(3)) == [1, 2]
    assert ids(reader(4, read_ids=frozenset({1}))) == [2, 3]
    assert ids(reader(5, hidden_ids=frozenset({2}))) == [1, 3]
    shared = source.candidates(Query.for_reader(pool, reader(6), context), prepared)
    assert not shared.rows.flags.writeable  # one answer serves many readers: read-only


def test_editor_picks_newest_first() -> None:
    pool = pool_of(
        article(1, editor_pick=True, hours_old=5),
        article(2, editor_pick=True, hours_old=1),
        article(3),
    )
    found = run(EditorPickSource(), pool, reader())
    assert list(found) == [2, 1]
    assert EditorPickSource().reason(pool, reader(), 0, -1) == "Editor's pick"


def test_fresh_source_window_and_reason() -> None:
    pool = pool_of(
        article(1, hours_old=1, section="Science"),
        article(2, hours_old=6, section="Science"),
        article(3, hours_old=30),
    )
    found = run(FreshSource(window_hours=12), pool, reader())
    assert list(found) == [1, 2]
    assert found[1] > found[2]
    assert FreshSource().reason(pool, reader(), 0, -1) == "New in Science"


def test_cold_start_serves_only_readers_without_history_and_spans_sections() -> None:
    pool = pool_of(
        *[article(i, section="Politics", trending=100.0 - i) for i in range(1, 6)],
        article(10, section="Sport", trending=1.0),
        article(11, section="Science", editor_pick=True),
    )
    source = ColdStartSource(per_section=2)
    found = run(source, pool, reader())
    assert set(found) == {1, 2, 10, 11}  # two per section + the pick
    assert run(source, pool, interested_in(0)) == {}
    assert run(source, pool, interested_in(0, personalisation_enabled=False)) != {}
    assert source.reason(pool, reader(), pool.index[11], -1) == "Editor's pick"
    assert source.reason(pool, reader(), pool.index[10], -1) == "Popular right now"


def test_base_source_must_be_overridden() -> None:
    pool = pool_of(article(1))
    with pytest.raises(NotImplementedError, match="candidates"):
        CandidateSource().candidates(Query.for_reader(pool, reader(), ctx()))


def test_pool_only_preparations_are_made_once_per_pool() -> None:
    from newsrec.engine.signals import pool_signals
    from newsrec.engine.sources import ColdStartSource, TrendingSource

    pool = random_pool(np.random.default_rng(5), 40, sections=["A", "B", "C"])
    for source in (TrendingSource(), ColdStartSource()):
        assert source.prepare(pool, ctx()) is source.prepare(pool, ctx())
    other = random_pool(np.random.default_rng(6), 40, sections=["A", "B"])
    assert TrendingSource().prepare(other, ctx()) is not TrendingSource().prepare(pool, ctx())
    # the counts' signals are shared, the clock's and the rules' are not
    first = pool_signals(pool, NOW, np.ones(len(pool)))
    later = pool_signals(pool, NOW + 86400, np.full(len(pool), 2.0))
    assert first["ctr"] is later["ctr"]
    assert not first["ctr"].flags.writeable
    np.testing.assert_allclose(later["age_days"], first["age_days"] + 1, rtol=1e-5)
    assert not np.array_equal(first["boost"], later["boost"])
