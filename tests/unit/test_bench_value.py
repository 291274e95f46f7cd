"""bench/value.py's pure helpers: the restated click model, reader-level lifts, A/A splits."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from value import (
    Lift,
    ReaderRow,
    aa_split,
    click_probability,
    counts_match,
    counts_of,
    design_effect,
    ratio_lift,
    share_with_interval,
)

from editorial.experiments.stats import Z_95, VariantCounts, lift_interval


def test_click_probability_is_the_simulators_logistic_with_re_read_damping() -> None:
    # appeal = -3 + 3.6 * 0.5 + 0.8 * exp(0) = -0.4
    fresh = click_probability(interest=0.5, age_hours=0.0, seen_before=False)
    assert fresh == pytest.approx(1 / (1 + math.exp(0.4)))
    assert click_probability(interest=0.5, age_hours=0.0, seen_before=True) == pytest.approx(
        0.25 * fresh
    )
    # older and less interesting articles are clicked less
    assert click_probability(interest=0.5, age_hours=48.0, seen_before=False) < fresh
    assert click_probability(interest=0.1, age_hours=0.0, seen_before=False) < fresh


def test_reads_per_reader_lift_by_hand() -> None:
    # a: 2 and 4 reads (mean 3, variance of the mean 1); b: 1 and 3 (mean 2, also 1)
    lift = ratio_lift([2, 4], [1, 1], [1, 3], [1, 1])
    se = math.sqrt(1 / 9 + 1 / 4)
    assert lift.lift == pytest.approx(0.5)
    assert lift.low == pytest.approx(1.5 * math.exp(-Z_95 * se) - 1)
    assert lift.high == pytest.approx(1.5 * math.exp(Z_95 * se) - 1)
    assert not lift.excludes_zero()
    assert lift.contains(0.5)
    assert not lift.contains(5.0)


def test_with_one_impression_per_reader_the_clustered_ctr_lift_is_the_katz_interval() -> None:
    n1, x1, n2, x2 = 400, 80, 500, 60
    clicks_a, clicks_b = [1] * x1 + [0] * (n1 - x1), [1] * x2 + [0] * (n2 - x2)
    lift = ratio_lift(clicks_a, [1] * n1, clicks_b, [1] * n2)
    katz = lift_interval(x1, n1, x2, n2)
    assert katz is not None
    assert lift.low is not None
    assert lift.high is not None
    assert lift.lift == pytest.approx((80 / 400) / (60 / 500) - 1)
    # the same up to the n / (n - 1) of a sample variance
    assert lift.low == pytest.approx(katz[0], rel=0.01)
    assert lift.high == pytest.approx(katz[1], rel=0.01)


def test_lift_is_undefined_without_enough_readers_or_clicks() -> None:
    assert ratio_lift([1], [3], [1, 2], [3, 3]) == Lift(None, None, None)
    assert ratio_lift([0, 0], [3, 3], [1, 2], [3, 3]) == Lift(None, None, None)
    assert not Lift(None, None, None).excludes_zero()
    assert not Lift(None, None, None).contains(0.0)


def _row(key: str, impressions: int = 10, clicks: int = 1, reads: int = 1) -> ReaderRow:
    return ReaderRow(key, impressions, clicks, reads, 0, reads, 60.0 * reads)


def test_reader_rows_add_up_to_the_products_counts() -> None:
    rows = [_row("a", 10, 2, 2), _row("b", 5, 0, 1), _row("c", 0, 0, 0)]
    counts = counts_of(rows)
    assert counts == VariantCounts(readers=2, impressions=15, clicks=2, reads=3, finishes=0,
                                   dwell_reads=3, dwell_seconds=180.0)  # fmt: skip
    assert counts_match(counts, VariantCounts(2, 15, 2, 3, 0, 3, 180.0 + 1e-12))
    assert not counts_match(counts, VariantCounts(2, 15, 3, 3, 0, 3, 180.0))


def test_aa_split_uses_the_assignment_hash_and_changes_with_the_salt() -> None:
    rows = [_row(f"00000000-0000-4000-8000-{i:012d}") for i in range(2000)]
    a, b = aa_split(rows, "aa:0:0")
    assert len(a) + len(b) == 2000
    assert 900 < len(a) < 1100  # 50/50 within a few standard deviations (22)
    assert aa_split(rows, "aa:0:0") == (a, b)  # deterministic
    again, _ = aa_split(rows, "aa:0:1")
    assert {r.public_id for r in again} != {r.public_id for r in a}


def test_share_flagged_with_its_wilson_interval() -> None:
    share = share_with_interval(5, 100)
    assert share["share"] == 0.05
    assert share["pass"] is True
    assert 0.02 < share["low"] < 0.05 < share["high"] < 0.12
    assert share_with_interval(16, 100)["pass"] is False
    assert share_with_interval(0, 100)["pass"] is False


def test_design_effect_is_one_for_independent_impressions_and_grows_with_clustering() -> None:
    single = [_row(f"r{i}", 1, int(i < 30), 0) for i in range(300)]
    assert design_effect(single) == pytest.approx(300 / 299)
    # the same 30 clicks in 300 impressions, all from 3 of 30 readers
    clustered = [_row(f"r{i}", 10, 10 if i < 3 else 0, 0) for i in range(30)]
    effect = design_effect(clustered)
    assert effect is not None
    assert effect > 5
