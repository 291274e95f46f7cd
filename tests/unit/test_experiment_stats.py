"""CTR comparisons with readers as the units: an A/A test is significant at the rate alpha says,
even when readers' clicks cluster (found by bench/value.py: 14 % of A/A splits flagged)."""

from __future__ import annotations

import math
import random

import pytest

from editorial.experiments.stats import VariantCounts, compare, ctr_variance, variant_figures


def counts_of(readers: list[tuple[int, int]]) -> VariantCounts:
    """(impressions, clicks) per reader -> the variant's counts with per-reader sums."""
    return VariantCounts(
        readers=len(readers),
        impressions=sum(i for i, _ in readers),
        clicks=sum(c for _, c in readers),
        impressions_sq=float(sum(i * i for i, _ in readers)),
        clicks_sq=float(sum(c * c for _, c in readers)),
        clicks_impressions=float(sum(i * c for i, c in readers)),
    )


def test_ctr_variance_by_hand() -> None:
    # readers: (10, 5), (10, 0): CTR .25; mean i 10, mean c 2.5; var_c 12.5, var_i 0, cov 0
    counts = counts_of([(10, 5), (10, 0)])
    assert ctr_variance(counts) == pytest.approx(12.5 / (2 * 10**2))
    # without per-reader sums: the binomial variance
    plain = VariantCounts(readers=2, impressions=20, clicks=5)
    assert ctr_variance(plain) == pytest.approx(0.25 * 0.75 / 20)


def _population(rng: random.Random, n: int) -> list[tuple[int, int]]:
    """Readers whose own CTRs differ a lot (some love the feed, most barely click)."""
    readers = []
    for _ in range(n):
        shown = rng.randint(5, 60)
        ctr = rng.betavariate(0.4, 3.0)
        readers.append((shown, sum(rng.random() < ctr for _ in range(shown))))
    return readers


def test_a_a_splits_are_significant_at_about_alpha() -> None:
    rng = random.Random(7)
    population = _population(rng, 600)
    runs, clustered, binomial = 200, 0, 0
    for _ in range(runs):
        rng.shuffle(population)
        a, b = counts_of(population[:300]), counts_of(population[300:])
        clustered += compare(variant_figures(a), variant_figures(b)).significant
        plain_a = VariantCounts(readers=300, impressions=a.impressions, clicks=a.clicks)
        plain_b = VariantCounts(readers=300, impressions=b.impressions, clicks=b.clicks)
        binomial += compare(variant_figures(plain_a), variant_figures(plain_b)).significant
    assert clustered / runs <= 0.10  # about alpha (.05)
    assert binomial / runs >= 0.15  # impressions as units: far too many false alarms


def test_a_real_lift_is_still_found() -> None:
    rng = random.Random(3)
    base = _population(rng, 400)
    boosted = [(i, min(i, math.ceil(c * 1.6))) for i, c in _population(rng, 400)]
    result = compare(variant_figures(counts_of(boosted)), variant_figures(counts_of(base)))
    assert result.significant
    assert result.ctr_lift_low is not None
    assert result.ctr_lift_low > 0
