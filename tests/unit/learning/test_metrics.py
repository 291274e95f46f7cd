"""Ranking metrics per impression: MIND's definitions, ties never resolved by the log's order."""

from __future__ import annotations

import math

import numpy as np
import pytest

from newsrec.learning.metrics import (
    RankingReport,
    impression_metrics,
    intra_list_diversity,
    list_figures,
)


def test_a_perfect_ranking() -> None:
    m = impression_metrics([0.9, 0.1, 0.2], [1, 0, 0])
    assert m == {"auc": 1.0, "mrr": 1.0, "ndcg5": 1.0, "ndcg10": 1.0}


def test_the_worst_ranking() -> None:
    m = impression_metrics([0.0, 0.5, 0.7, 0.9], [1, 0, 0, 0])
    assert m["auc"] == 0.0
    assert m["mrr"] == pytest.approx(1 / 4)
    assert m["ndcg10"] == pytest.approx(1 / math.log2(5))


@pytest.mark.parametrize("position", [0, 2, 4])
def test_constant_scores_gain_nothing_from_where_the_log_put_the_click(position: int) -> None:
    labels = [0] * 5
    labels[position] = 1
    m = impression_metrics([1.0] * 5, labels)
    assert m["auc"] == 0.5  # a tie counts half, whatever the order
    assert m["mrr"] == pytest.approx(1 / 5)  # ranked behind every tied non-click
    assert m["ndcg5"] == pytest.approx(1 / math.log2(6))


def test_two_clicks_mind_mrr_and_ndcg() -> None:
    m = impression_metrics([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 0])
    assert m["mrr"] == pytest.approx((1 + 1 / 3) / 2)
    assert m["auc"] == pytest.approx(3 / 4)
    ideal = 1 + 1 / math.log2(3)
    assert m["ndcg10"] == pytest.approx((1 + 1 / math.log2(4)) / ideal)


def test_filtered_candidates_rank_last() -> None:
    m = impression_metrics([-math.inf, 0.2, 0.1], [1, 0, 0])
    assert m["auc"] == 0.0


def test_report_skips_impressions_without_both_labels() -> None:
    report = RankingReport()
    report.add([0.3, 0.2], [1, 0])
    report.add([0.3, 0.2], [0, 0])
    report.add([0.3, 0.2], [1, 1])
    assert report.impressions == 1
    assert report.skipped == 2
    assert report.means()["auc"] == 1.0


def test_diversity_coverage_novelty_and_section_share() -> None:
    e = {1: np.array([1.0, 0.0]), 2: np.array([0.0, 1.0]), 3: np.array([1.0, 0.0])}
    assert intra_list_diversity(np.stack([e[1], e[2]])) == pytest.approx(1.0)
    figures = list_figures(
        [[1, 2], [1, 3]],
        embeddings=e,
        sections={1: "A", 2: "B", 3: "A"},
        readers_of={1: 9, 2: 0, 3: 0},
        readers=9,
        catalogue_size=6,
    )
    assert figures.diversity == pytest.approx(0.5)
    assert figures.coverage == pytest.approx(0.5)
    assert figures.top_section_share == pytest.approx(0.75)
    assert figures.novelty == pytest.approx((0 + math.log2(10) + 0 + math.log2(10)) / 4, rel=1e-3)
