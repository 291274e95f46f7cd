"""Learned scoring inside the engine: signals, the candidate-scoring entry point, rules after."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from newsrec.engine import Boost, EngineInputError, Filters, Pin, Ranker, Rules
from newsrec.engine.pool import ArticleMeta
from newsrec.engine.signals import (
    CTR_PRIOR,
    CTR_STRENGTH,
    SIGNALS,
    beta_strength,
    content_ctr,
    smoothed_ctr,
)
from tests.unit.engine.builders import (
    NO_RULES,
    article,
    axis,
    ctx,
    interested_in,
    pool_of,
    reader,
)

POOL = pool_of(
    article(1, section="Politics", clicks=2.0, impressions=40.0),
    article(2, section="Politics", clicks=30.0, impressions=60.0),
    article(3, section="Sport", clicks=0.0, impressions=0.0),
    article(4, section="Sport", clicks=5.0, impressions=10.0, hours_old=50),
    article(5, section="Culture", clicks=1.0, impressions=100.0),
)


class ByCtr:
    """A stand-in model: the score is one signal (what a trained model would be asked for)."""

    def __init__(self, signal: str = "ctr") -> None:
        self.feature_names: Sequence[str] = (signal,)

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        return (matrix[:, 0] - 0.3) * 10


def test_smoothed_ctr_shrinks_towards_the_pool_rate() -> None:
    ctr, prior = smoothed_ctr(np.array([0.0, 30.0, 1.0]), np.array([0.0, 60.0, 100.0]))
    assert prior == pytest.approx(31 / 160)
    assert ctr[0] == pytest.approx(prior)  # never shown: the prior itself
    assert ctr[2] < prior < ctr[1] < 0.5  # shrunk towards the prior, ordered by evidence


def test_beta_strength_recovers_the_spread_of_true_rates() -> None:
    rng = np.random.default_rng(3)
    rates = rng.beta(0.2 * 40, 0.8 * 40, size=2000)  # a prior worth 40 impressions
    shown = rng.integers(5, 200, size=2000).astype(np.float64)
    clicks = rng.binomial(shown.astype(np.int64), rates).astype(np.float64)
    assert 30 < beta_strength(clicks, shown) < 55
    # rates that differ only by binomial noise: the prior outweighs any article's evidence
    same = rng.binomial(shown.astype(np.int64), 0.2).astype(np.float64)
    assert beta_strength(same, shown) > 200
    assert beta_strength(np.zeros(3), np.ones(3)) == CTR_STRENGTH  # too few to tell


def _content_pool(new_like: int) -> list[ArticleMeta]:
    """60 shown articles: those along axis 0 opened 1 in 2, along axis 1 1 in 20; one unshown."""
    shown = [
        article(k, vector=axis(k % 2, 0.1, towards=2 + k % 5), clicks=10.0 if k % 2 == 0 else 1.0,
                impressions=20.0)
        for k in range(1, 61)
    ]  # fmt: skip
    return [*shown, article(100, vector=axis(new_like))]


def test_content_ctr_starts_a_new_article_where_articles_like_it_are() -> None:
    like_opened = pool_of(*_content_pool(0))
    like_ignored = pool_of(*_content_pool(1))
    new_opened = content_ctr(like_opened)[like_opened.index[100]]
    new_ignored = content_ctr(like_ignored)[like_ignored.index[100]]
    plain, prior = smoothed_ctr(like_opened.clicks, like_opened.impressions)
    assert new_ignored < prior < new_opened  # the one pool-wide prior knows neither
    assert plain[like_opened.index[100]] == pytest.approx(prior)
    assert content_ctr(like_opened) is content_ctr(like_opened)  # once per pool


def test_content_ctr_is_the_plain_prior_without_impressions() -> None:
    pool = pool_of(article(1), article(2, vector=axis(3)))
    assert np.allclose(content_ctr(pool), CTR_PRIOR)


def test_score_candidates_scores_the_given_articles_in_their_order() -> None:
    [result] = Ranker().score_candidates(POOL, [reader()], ctx(), NO_RULES, [[5, 2, 99, 1]])
    assert result.article_ids == [5, 2, 99, 1]
    assert np.isneginf(result.scores[2])  # not in the pool
    assert result.eligible.tolist() == [True, True, False, True]
    assert set(SIGNALS) <= set(result.features)
    assert all(len(v) == 4 for v in result.features.values())


def test_score_candidates_scores_filtered_and_read_articles_minus_infinity() -> None:
    rules = Rules(filters=Filters(blocked_sections=frozenset({"Sport"})))
    [result] = Ranker().score_candidates(
        POOL, [reader(read_ids=frozenset({1}))], ctx(), rules, [[1, 2, 3]]
    )
    assert result.eligible.tolist() == [False, True, False]
    assert np.isneginf(result.scores[[0, 2]]).all()


def test_score_candidates_needs_one_list_per_reader() -> None:
    with pytest.raises(EngineInputError):
        Ranker().score_candidates(POOL, [reader(), reader(2)], ctx(), NO_RULES, [[1]])


def test_a_model_ranks_by_its_own_score() -> None:
    [result] = Ranker(model=ByCtr()).score_candidates(
        POOL, [reader()], ctx(), NO_RULES, [[1, 2, 3, 4, 5]]
    )
    order = [a for _, a in sorted(zip(-result.scores, result.article_ids, strict=True))]
    ctr, _ = smoothed_ctr(POOL.clicks, POOL.impressions)
    assert order == [int(POOL.ids[i]) for i in np.argsort(-ctr, kind="stable")]


def test_boosts_multiply_the_model_score_and_pins_and_filters_still_hold() -> None:
    rules = Rules(
        boosts=(Boost(field="section", value="Culture", factor=50.0),),
        filters=Filters(blocked_sections=frozenset({"Sport"})),
        pins=(Pin(article_id=1, slot=1),),
    )
    feed = Ranker(model=ByCtr()).rank(POOL, interested_in(0), ctx(), rules, n=4)
    assert feed.article_ids[0] == 1  # the pin
    assert feed.article_ids[1] == 5  # the lowest CTR, boosted 50x above article 2
    assert not {3, 4} & set(feed.article_ids)  # blocked section, with or without a model
    item = feed.items[1]
    assert item.breakdown["score"] == pytest.approx(item.breakdown["base"] * 50.0, rel=1e-5)


def test_without_a_model_the_hand_formula_is_unchanged() -> None:
    hand = Ranker().rank(POOL, interested_in(0), ctx(), NO_RULES, n=5)
    prepared = Ranker().prepare(POOL, ctx(), NO_RULES)
    assert prepared.signals is None  # nothing extra computed for the hand formula
    assert [i.breakdown["freshness"] for i in hand.items] != [1.0] * 5


class ByCtrWithFit(ByCtr):
    """As ByCtr, with the linear fit a trained model carries (weight 10 on ctr)."""

    prefilter = np.array([10.0, -3.0])


def test_a_model_names_the_signal_behind_an_otherwise_generic_reason() -> None:
    old = pool_of(  # days old: found by the interest source alone, "Recommended for you"
        *(
            article(i, hours_old=100, clicks=float(c), impressions=40.0)
            for i, c in [(1, 2), (2, 30), (3, 0), (4, 5), (5, 1)]
        )
    )
    me = interested_in(1, 2, 3, 4, 5)
    hand = Ranker().rank(old, me, ctx(), NO_RULES, n=5)
    assert {i.reason for i in hand.items} == {"Recommended for you"}
    feed = Ranker(model=ByCtrWithFit()).rank(old, me, ctx(), NO_RULES, n=5)
    reasons = {i.article_id: i.reason for i in feed.items}
    assert reasons[2] == "Readers who see this often open it"  # the best CTR: 30 of 40
    ctr, _ = smoothed_ctr(old.clicks, old.impressions)
    mean = float(ctr.mean())
    for article_id, reason in reasons.items():
        lifted = ctr[old.index[article_id]] > mean
        assert reason == ("Readers who see this often open it" if lifted else "Recommended for you")


def test_the_model_shortlist_keeps_a_boosted_article_the_model_alone_ranks_low() -> None:
    # The cascade scores only the model_shortlist rows its linear fit ranks best. An editor's
    # boost multiplies the model's score afterwards, so the shortlist must rank by the boosted
    # score: article 5 has the lowest CTR but a 50x boost, and full scoring places it first.
    rules = Rules(boosts=(Boost(field="article", value=5, factor=50.0),))
    me = interested_in(0)
    full = Ranker(model=ByCtrWithFit(), model_shortlist=100).rank(POOL, me, ctx(), rules, n=3)
    short = Ranker(model=ByCtrWithFit(), model_shortlist=2).rank(POOL, me, ctx(), rules, n=3)
    assert full.article_ids[0] == 5
    assert short.article_ids[0] == 5
    assert short.article_ids[:2] == full.article_ids[:2]  # the rest were never model-scored
